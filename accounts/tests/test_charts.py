"""accounts.charts: pure SVG markup (escaped, accessible, no inline style)."""

import re
import xml.etree.ElementTree as ET

from accounts.charts import Bar, column_chart, row_chart

SVG = "{http://www.w3.org/2000/svg}"


def test_column_chart_is_valid_accessible_svg_with_one_bar_per_value():
    svg = column_chart(
        [Bar("0.5", 1), Bar("1", 4, css="peak"), Bar("1.5", 0)], chart_id="h", title="How you rate"
    )
    root = ET.fromstring(svg)
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "h-title"
    assert root.find(f"{SVG}title").text == "How you rate"
    groups = root.findall(f"{SVG}g")
    assert [g.find(f"{SVG}title").text for g in groups] == ["0.5: 1", "1: 4", "1.5: 0"]
    heights = [float(g.find(f"{SVG}rect").get("height")) for g in groups]
    assert heights[1] > heights[0] > heights[2] == 0
    assert "peak" in groups[1].get("class")
    assert not re.search(r"\sstyle\s*=", svg)


def test_row_chart_scales_to_max_value_and_escapes_text():
    svg = row_chart(
        [Bar("<script>", 5, text="★ 5.0"), Bar("Half & half", 2.5)],
        chart_id="p",
        title="People",
        desc="d",
        max_value=5,
    )
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "Half &amp; half" in svg
    root = ET.fromstring(svg)
    fills = [float(g.findall(f"{SVG}rect")[1].get("width")) for g in root.findall(f"{SVG}g")]
    assert fills[0] == 2 * fills[1]
    assert root.get("aria-labelledby") == "p-title p-desc"


def test_long_labels_are_truncated_but_full_in_the_tooltip():
    name = "An Extremely Long Director Name Indeed"
    root = ET.fromstring(row_chart([Bar(name, 1)], chart_id="x", title="t"))
    group = root.find(f"{SVG}g")
    assert group.find(f"{SVG}title").text.startswith(name)
    assert group.find(f"{SVG}text").text.endswith("…")


def test_empty_charts_render():
    assert ET.fromstring(column_chart([], chart_id="e", title="t")) is not None
    assert ET.fromstring(row_chart([], chart_id="e", title="t")) is not None
