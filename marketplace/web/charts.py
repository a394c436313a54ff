"""Bar charts for the statistics pages, drawn on the server as SVG (templates/charts/bar.html).

The statistics pages show one kind of chart: one series of bars, upright (a few categories or
months) or lying down (many categories with long names). This module computes the geometry —
the scale, the ticks, each bar's position and the place of every label — with Decimal
arithmetic, and the template writes it out. Colours, fonts and sizes come from classes in
static/css/app.css, so the SVG has no ``style`` element or attribute and no script: it lives
under the page's Content-Security-Policy (style-src/script-src 'self') as it is.

Each chart carries a ``<title>`` and a ``<desc>`` (listing every value) and ``role="img"``;
the page shows a table of the same numbers beside it. Long category names are shortened on
the chart only (each bar's own ``<title>`` and the table have them in full).
"""
import re
from decimal import ROUND_CEILING, Decimal

from flask import render_template
from markupsafe import Markup

WIDTH = 460            # viewBox width; the SVG scales to its column (figure.chart svg in app.css)
FONT = 13              # px in viewBox units: must match .chart-svg text in app.css
PAD = 8
ROW = 28               # horizontal charts: one row per category
BAR_THICKNESS = 18
PLOT_HEIGHT = 180      # upright charts: the height of the plot area
TARGET_TICKS = 5


def _text_width(text, size=FONT):
    """An estimate of the drawn width: CJK glyphs are square, Latin ones about 0.56 em."""
    return sum(size if ord(ch) >= 0x2E80 else size * 0.56 for ch in str(text))


def _short(label, limit):
    """``label`` cut to the width of ``limit`` CJK characters (Latin letters are narrower, so more fit)."""
    label, room = str(label), limit * FONT
    if _text_width(label) <= room:
        return label
    while label and _text_width(label + "…") > room:
        label = label[:-1]
    return label + "…"


def _dec(value):
    return Decimal(str(round(value, 1)))


def _num(value):
    """A coordinate for the SVG: at most one decimal, no trailing zeros."""
    q = Decimal(value).quantize(Decimal("0.1"))
    return format(q.normalize(), "f") if q else "0"


def nice_step(top, *, whole=True, target=TARGET_TICKS):
    """The tick step: 1, 2 or 5 times a power of ten, giving about ``target`` ticks up to ``top``.

    ``whole`` keeps the step a whole number (for counts: no tick at 0.4 of a deal).
    """
    top = Decimal(top)
    if top <= 0:
        return Decimal(1)
    raw = top / target
    power = Decimal(1).scaleb(raw.adjusted())  # 10 ** floor(log10(raw))
    for m in (1, 2, 5, 10):
        step = power * m
        if step >= raw:
            break
    if whole:
        step = max(Decimal(1), step.to_integral_value(ROUND_CEILING))
    return step


def ticks(top, *, whole=True):
    """Tick values from 0 to the first tick at or above ``top``."""
    step = nice_step(top, whole=whole)
    count = int((Decimal(top) / step).to_integral_value(ROUND_CEILING)) if Decimal(top) > 0 else 1
    return [step * i for i in range(max(count, 1) + 1)]


def _plain(value):
    """A tick's label: thousands separated, no needless decimals (0.5, 1, 1.5 … or 1,000)."""
    value = Decimal(value).normalize()
    return f"{value:,f}" if value != value.to_integral_value() else f"{int(value):,}"


def layout(name, title, labels, values, *, horizontal=False, formatter=None, description=None, counts=True,
           label_limit=14):
    """The geometry of one bar chart, as plain data for templates/charts/bar.html."""
    if len(labels) != len(values):
        raise ValueError("one value per label")
    values = [Decimal(str(v)) if v is not None else Decimal(0) for v in values]
    fmt = formatter or (lambda v: f"{int(v):,}" if counts else _plain(v))
    scale = ticks(max(values or [Decimal(0)]), whole=counts)
    top = scale[-1]
    shown = [_short(lab, label_limit) for lab in labels]
    chart_id = "chart-" + re.sub(r"[^a-z0-9-]", "-", name.lower())
    tick_labels = [_plain(t) for t in scale]
    bars = []
    if horizontal:
        left = _dec(PAD + min(200, max([_text_width(s) for s in shown] or [0])) + PAD)
        right = _dec(WIDTH - PAD - max([_text_width(fmt(v)) for v in values] or [0]) - PAD)
        span = right - left
        plot_top = PAD
        plot_bottom = plot_top + ROW * len(values)
        for i, (label, short, value) in enumerate(zip(labels, shown, values, strict=True)):
            length = span * value / top
            y = plot_top + ROW * i + (ROW - BAR_THICKNESS) / 2
            bars.append({"x": _num(left), "y": _num(y), "width": _num(length), "height": _num(BAR_THICKNESS),
                         "label": short, "full_label": str(label), "value": fmt(value), "zero": value == 0,
                         "label_x": _num(left - PAD), "label_y": _num(y + BAR_THICKNESS / 2),
                         "value_x": _num(left + length + 4), "value_y": _num(y + BAR_THICKNESS / 2)})
        grid = [{"x1": _num(left + span * t / top), "x2": _num(left + span * t / top), "y1": _num(plot_top),
                 "y2": _num(plot_bottom), "label": lab, "label_x": _num(left + span * t / top),
                 "label_y": _num(plot_bottom + FONT + 4)} for t, lab in zip(scale, tick_labels, strict=True)]
        height = plot_bottom + FONT + 4 + PAD
        axis = {"x1": _num(left), "y1": _num(plot_top), "x2": _num(left), "y2": _num(plot_bottom)}
    else:
        left = _dec(PAD + max(_text_width(t) for t in tick_labels) + PAD)
        right = _dec(WIDTH - PAD)
        slot = (right - left) / max(len(values), 1)
        widest = max([_text_width(s) for s in shown] or [0])
        tilt = widest > float(slot) - 4          # labels that would touch are set at 45°
        plot_top = PAD + FONT + 4                 # room for the value above the tallest bar
        plot_bottom = plot_top + PLOT_HEIGHT
        bar_width = min(slot * Decimal("0.7"), Decimal(56))
        for i, (label, short, value) in enumerate(zip(labels, shown, values, strict=True)):
            length = Decimal(PLOT_HEIGHT) * value / top
            centre = left + slot * i + slot / 2
            bars.append({"x": _num(centre - bar_width / 2), "y": _num(plot_bottom - length), "width": _num(bar_width),
                         "height": _num(length), "label": short, "full_label": str(label), "value": fmt(value),
                         "zero": value == 0, "label_x": _num(centre), "label_y": _num(plot_bottom + FONT + 6),
                         "value_x": _num(centre), "value_y": _num(plot_bottom - length - 4)})
        grid = [{"x1": _num(left), "x2": _num(right), "y1": _num(plot_bottom - PLOT_HEIGHT * t / top),
                 "y2": _num(plot_bottom - PLOT_HEIGHT * t / top), "label": lab, "label_x": _num(left - PAD),
                 "label_y": _num(plot_bottom - PLOT_HEIGHT * t / top)} for t, lab in zip(scale, tick_labels, strict=True)]
        label_room = (widest * 0.71 + FONT) if tilt else FONT
        height = plot_bottom + 6 + label_room + PAD
        axis = {"x1": _num(left), "y1": _num(plot_bottom), "x2": _num(right), "y2": _num(plot_bottom)}
    return {"id": chart_id, "title": str(title), "description": description, "horizontal": horizontal,
            "tilt": (not horizontal) and tilt, "width": WIDTH, "height": _num(height), "bars": bars, "grid": grid,
            "axis": axis}


def bar_chart(name, title, labels, values, **options):
    """An inline SVG bar chart (Markup) of one series: ``values[i]`` is the bar of ``labels[i]``.

    ``name`` must be unique on the page (it becomes the SVG's id). ``title`` names the chart
    for screen readers (the page's heading shows it to everyone); ``description`` says every
    value in words. See :func:`layout` for the options.
    """
    return Markup(render_template("charts/bar.html", chart=layout(name, title, labels, values, **options)))
