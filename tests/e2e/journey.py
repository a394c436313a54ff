"""Small helpers shared by the real-browser journeys: fresh identifiers, a tiny PDF, sign-in, screenshots."""
import random

from listings.identifiers import patent_check_char
from marketplace.kernel.uscc import ALPHABET, uscc_check_char
from tests.e2e.conftest import ARTIFACTS

SCREENSHOTS = ARTIFACTS / "screenshots"
PASSWORD = "a-long-password-1"

# A PDF small enough to read: one empty page. Uploads are typed by content (%PDF-), not by name.
PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
       b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
       b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\n"
       b"trailer<</Root 1 0 R>>\n%%EOF\n")


def fresh_uscc(region_code="440101"):
    """A USCC no one has used: 91 (enterprise), a Guangdong region code, 9 random characters, check character."""
    first17 = "91" + region_code + "".join(random.choice(ALPHABET) for _ in range(9))
    return first17 + uscc_check_char(first17)


def fresh_application_number(year=2020, type_digit="1"):
    """A CN application number of the 2003+ form (YYYY T NNNNNNN . C) with its check character."""
    digits = f"{year}{type_digit}{random.randrange(10**6, 10**7):07d}"
    return f"{digits}.{patent_check_char(digits)}"


def pdf_file(name):
    return {"name": name, "mimeType": "application/pdf", "buffer": PDF}


def sign_in(page, base, email, password=PASSWORD):
    page.goto(base + "/login")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("main form button[type=submit]")
    page.wait_for_url(base + "/")


def shot(page, name):
    """Keep a full-page screenshot for people to look at (test-artifacts/screenshots/NAME.png)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")  # else the sticky header is drawn where the page was scrolled to
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def flash(page, category="success"):
    return page.locator(f".flash-{category}").first.inner_text()


def failed_request(problems, prefix="failed request"):
    """A ``requestfailed`` handler: a request the page cancels by navigating on (net::ERR_ABORTED, e.g. the
    favicon while the next page loads) is not a failure anyone sees; any other network failure is."""
    def on_failed(request):
        if "ERR_ABORTED" not in (request.failure or ""):
            problems.append(f"{prefix}: {request.url} ({request.failure})")
    return on_failed
