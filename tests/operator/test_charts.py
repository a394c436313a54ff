"""The statistics bar charts (marketplace/web/charts.py): scale, bar geometry, labels, and what the SVG may hold."""
from decimal import Decimal

from marketplace.web import charts


def test_ticks_are_whole_for_counts_and_round_for_amounts():
    assert charts.ticks(3) == [0, 1, 2, 3]
    assert charts.ticks(23) == [0, 5, 10, 15, 20, 25]
    assert charts.ticks(0) == [0, 1]  # an empty chart still has a scale
    assert charts.ticks(Decimal("0.37"), whole=False) == [0, Decimal("0.1"), Decimal("0.2"), Decimal("0.3"),
                                                          Decimal("0.4")]
    assert charts.ticks(Decimal("98.77"), whole=False)[-1] == 100


def test_bars_are_in_proportion_and_zero_is_unlabelled():
    chart = charts.layout("t", "T", ["a", "b", "c"], [4, 2, 0])
    heights = [Decimal(b["height"]) for b in chart["bars"]]
    assert heights[0] == charts.PLOT_HEIGHT and heights[1] == charts.PLOT_HEIGHT / 2 and heights[2] == 0
    assert [b["zero"] for b in chart["bars"]] == [False, False, True]
    wide = charts.layout("h", "H", ["a", "b"], [4, 1], horizontal=True)
    widths = [Decimal(b["width"]) for b in wide["bars"]]
    assert abs(widths[0] - widths[1] * 4) <= Decimal("0.4")  # each rounded to 0.1


def test_amounts_keep_their_decimals():
    chart = charts.layout("v", "V", ["2026-04"], [Decimal("60.00")], counts=False, formatter=lambda v: f"{v:,.2f}")
    assert chart["bars"][0]["value"] == "60.00"
    assert [t["label"] for t in chart["grid"]] == ["0", "20", "40", "60"]


def test_long_labels_are_shortened_on_the_chart_only():
    name = "第42类 — 科学技术服务和与之相关的研究与设计服务"
    bar = charts.layout("l", "L", [name], [1], horizontal=True)["bars"][0]
    assert bar["label"].endswith("…") and len(bar["label"]) < len(name) and bar["full_label"] == name
    assert charts.layout("l", "L", ["A Human necessities"], [1], horizontal=True)["bars"][0]["label"] == \
        "A Human necessities"  # Latin letters are narrower: this fits


def test_crowded_month_labels_are_tilted():
    months = [f"2026-{m:02d}" for m in range(1, 13)]
    assert charts.layout("m", "M", months, list(range(12)))["tilt"]
    assert not charts.layout("m", "M", months[:3], [1, 2, 3])["tilt"]


def test_svg_is_accessible_escaped_and_free_of_style_and_script(app):
    with app.test_request_context():
        svg = str(charts.bar_chart("stats-x", "标题<b>", ["<script>alert(1)</script>"], [2], description="a: 2"))
    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg" id="chart-stats-x"')
    assert 'role="img" aria-labelledby="chart-stats-x-title" aria-describedby="chart-stats-x-desc"' in svg
    assert '<title id="chart-stats-x-title">标题&lt;b&gt;</title>' in svg and '<desc id="chart-stats-x-desc">a: 2' in svg
    assert "<script" not in svg and "style" not in svg and "&lt;script&gt;" in svg
