"""Server-side SVG charts drawn with pygal, made to live under the site's CSP.

pygal writes a ``<style>`` and a ``<script>`` into each SVG, and a few ``style``
attributes; the page's Content-Security-Policy (script-src/style-src 'self')
would block all of them. So each chart is rendered to a tree, the style, the
scripts and the tooltip layer are taken out, and the chart is inlined in the page
(with a ``<title>`` and ``role="img"`` for screen readers). pygal's stylesheet,
scoped to ``.pygal-chart`` instead of one chart's id, is served once from
``/stats/charts.css`` (see :func:`chart_css`). Every chart is shown next to a
table of the same numbers.
"""
import functools
import math
import re
import xml.etree.ElementTree as ET

import pygal
from markupsafe import Markup
from pygal.style import Style

FONT = '"Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", "Helvetica Neue", Arial, sans-serif'
STYLE = Style(
    background="#ffffff", plot_background="#ffffff", foreground="#1f2329", foreground_strong="#1f2329",
    foreground_subtle="#5c6470", opacity=".9", opacity_hover="1", transition="0s",
    colors=("#b3261e", "#2463b5", "#1e7b3c", "#8a6d00", "#6b7280", "#7c3aed", "#0e7490", "#be185d"),
    font_family=FONT, label_font_family=FONT, major_label_font_family=FONT, value_font_family=FONT,
    value_label_font_family=FONT, tooltip_font_family=FONT, title_font_family=FONT, legend_font_family=FONT,
    label_font_size=13, major_label_font_size=13, legend_font_size=13, title_font_size=16, value_font_size=12,
)
BASE_CONFIG = dict(style=STYLE, js=[], disable_xml_declaration=True, no_prefix=False, pretty_print=False,
                   show_y_guides=True, print_values=True, print_zeroes=False, truncate_label=-1,
                   truncate_legend=-1, width=720, height=360, margin=16, spacing=12, legend_at_bottom=True)
_STRIP = ("style", "script")


def _element_to_text(root):
    return ET.tostring(root, encoding="unicode", short_empty_elements=True)


def _clean(root, title, description):
    """Remove what CSP forbids and what needs JS; add accessible names."""
    for parent in list(root.iter()):
        for child in list(parent):
            if not isinstance(child.tag, str):  # comments
                parent.remove(child)
            elif child.tag in _STRIP or "tooltip-overlay" in (child.get("class") or ""):
                parent.remove(child)
    for el in root.iter():
        el.attrib.pop("style", None)
    chart_id = root.get("id")
    for old in root.findall("title"):
        root.remove(old)
    title_el = ET.Element("title", id=f"{chart_id}-title")
    title_el.text = title
    root.insert(0, title_el)
    labelled = f"{chart_id}-title"
    if description:
        desc = ET.Element("desc", id=f"{chart_id}-desc")
        desc.text = description
        root.insert(1, desc)
        root.set("aria-describedby", f"{chart_id}-desc")
    root.set("role", "img")
    root.set("aria-labelledby", labelled)
    root.set("focusable", "false")
    return root


def _integer_ticks(series):
    """Whole-number ticks for counts (pygal would otherwise draw 0.2, 0.4, …)."""
    top = max([v for _name, values in series for v in values if v is not None] or [1])
    step = max(1, math.ceil(top / 8))
    return list(range(0, top + step, step))


def _short(label, limit):
    label = str(label)
    return label if len(label) <= limit else label[: limit - 1] + "…"


def bar_chart(name, title, labels, series, *, horizontal=False, formatter=None, description=None, height=None,
              counts=True, label_limit=14):
    """An inline SVG bar chart (Markup). ``series`` is [(series name, [value per label]), ...].

    ``name`` must be unique on the page (it becomes the SVG id). ``title`` names the chart
    for screen readers (the page's heading shows it to everyone); long category labels are
    shortened to ``label_limit`` characters (the table beside the chart has them in full).
    """
    kind = pygal.HorizontalBar if horizontal else pygal.Bar
    rows = max(len(labels), 1)
    config = dict(BASE_CONFIG, show_legend=len(series) > 1,
                  height=height or (max(200, 50 + 32 * rows * max(1, len(series))) if horizontal else 340))
    if formatter is not None:
        config["formatter"] = formatter
    if counts:
        config["y_labels"] = _integer_ticks(series)
    chart = kind(**config)
    chart.uuid = re.sub(r"[^a-z0-9-]", "-", name.lower())
    chart.x_labels = [_short(x, label_limit) for x in labels]
    for series_name, values in series:
        chart.add(str(series_name), list(values))
    root = _clean(chart.render_tree(), str(title), description)
    return Markup(_element_to_text(root))


@functools.lru_cache(maxsize=1)
def chart_css():
    """pygal's stylesheet for :data:`STYLE`, scoped to every ``.pygal-chart`` on the page."""
    chart = pygal.Bar(**dict(BASE_CONFIG, show_legend=True))
    chart.uuid = "scope"
    chart.x_labels = ["a"]
    for i in range(len(STYLE.colors)):
        chart.add(f"s{i}", [1])
    root = chart.render_tree()
    css = "\n".join(el.text or "" for el in root.iter("style"))
    css = css.replace("#chart-scope", ".pygal-chart")
    # Hover effects and tooltips need pygal's script, which the CSP keeps out.
    # Values are printed inside the bars: white on the dark bar colours keeps the contrast.
    return css + ("\n.pygal-chart .tooltip{opacity:0}"
                  "\n.pygal-chart .text-overlay text.value{fill:#fff;font-weight:600}\n")
