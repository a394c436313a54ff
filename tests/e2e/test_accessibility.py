"""Keyboard use with a visible focus ring. axe-core (WCAG 2.1 A/AA: labelled form fields, names for links and
buttons, contrast, landmarks) runs on every main page at both sizes in test_page_walk.py."""

import pytest
from axe_playwright_python.sync_playwright import Axe

TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def _problems(page):
    """axe-core's WCAG 2.1 A/AA violations on ``page`` (the passes counted only, which is quicker)."""
    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": TAGS}, "resultTypes": ["violations"]})
    assert len(results.response["passes"]) >= 10, f"axe checked almost nothing on {page.url}"
    found = []
    for violation in results.response["violations"]:
        for node in violation["nodes"][:3]:
            found.append(f"{page.url} {violation['id']} ({violation['impact']}): {node['target']} "
                         f"{node.get('failureSummary', '')[:200]}")
    return found


@pytest.fixture(scope="module")
def demo(live_server, flask_cli):
    flask_cli("demo", "seed")
    return live_server[0]


def test_keyboard_reaches_search_with_a_visible_focus_ring(demo, new_page):
    page = new_page()
    page.goto(demo + "/")
    page.keyboard.press("Tab")  # first stop: the skip link, shown when focused
    skip = page.evaluate("document.activeElement.className")
    assert "skip-link" in skip
    page.keyboard.press("Enter")
    assert page.evaluate("location.hash") == "#main"
    page.goto(demo + "/")
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.getAttribute('name')") == "q":
            break
    else:
        pytest.fail("Tab never reached the search box")
    ring = page.evaluate("""() => { const s = getComputedStyle(document.activeElement);
        return [s.outlineStyle, parseFloat(s.outlineWidth), s.boxShadow]; }""")
    assert (ring[0] != "none" and ring[1] >= 2) or ring[2] != "none", ring
    page.keyboard.type("电池")
    page.keyboard.press("Enter")
    page.wait_for_url("**/search?**")
    assert "电池" in page.inner_text("main")
