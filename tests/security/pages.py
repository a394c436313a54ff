"""What every rendered page must be: no inline script or style (the CSP forbids them), no event-handler
attributes, no ``javascript:`` links, and no trace of an injected element.

``page_problems(html)`` parses a page and lists what is wrong; an empty list is a clean page.
"""
from html.parser import HTMLParser

MARK = "ipmart-xss"  # a custom element no template uses: if it ever appears as a tag, an injection got through
SCRIPT_SOURCES = ("/static/", "https://js.stripe.com/")

# Payloads put into every free-text field. Short enough for a 100-character name.
PAYLOADS = {
    "short": '"><img src=x onerror=alert(1)><ipmart-xss>',
    "long": ('"><img src=x onerror=alert(1)><ipmart-xss onmouseover=alert(2)></textarea><script>alert(3)</script>'
             "[点我](javascript:alert(4))<a href=\"javascript:alert(5)\">x</a><svg onload=alert(6)>{{ 7*7 }}"),
}


class _Inspector(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.problems = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == MARK:
            self.problems.append(f"injected <{MARK}> element rendered as a tag")
        if tag == "script":
            src = attrs.get("src") or ""
            if not src.startswith(SCRIPT_SOURCES):
                self.problems.append(f"inline or foreign <script> (src={src!r})")
            self._in_script = True
        if tag == "style":
            self.problems.append("inline <style> element")
        for name, value in attrs.items():
            if name.startswith("on"):
                self.problems.append(f"event-handler attribute {name}= on <{tag}>")
            if name == "style":
                self.problems.append(f"inline style attribute on <{tag}>")
            if name in ("href", "src", "action", "formaction", "xlink:href") and value:
                if value.strip().lower().replace("\t", "").replace("\n", "").startswith(("javascript:", "vbscript:")):
                    self.problems.append(f"{name}={value!r} on <{tag}>")

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag == "script":
            self._in_script = False

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.problems.append(f"inline script content: {data.strip()[:60]!r}")


def page_problems(html):
    inspector = _Inspector()
    inspector.feed(html)
    inspector.close()
    return inspector.problems
