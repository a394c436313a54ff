# temporary: screenshots of /stats for the chart rewrite (not committed)
import threading

from werkzeug.serving import make_server

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.factories import free_port
from tests.operator.test_stats import market  # noqa: F401


def test_shots(app, market, operator):  # noqa: F811
    port = free_port()
    srv = make_server("127.0.0.1", port, app, threaded=False)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    from playwright.sync_api import sync_playwright
    msgs = []
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        for w in (1366, 390):
            for lang in ("zh", "en"):
                ctx = b.new_context(viewport={"width": w, "height": 900})
                page = ctx.new_page()
                page.on("console", lambda m: msgs.append((w, m.type, m.text)))
                page.on("pageerror", lambda e: msgs.append((w, "pageerror", str(e))))
                page.goto(f"http://127.0.0.1:{port}/stats?lang={lang}")
                page.evaluate("document.querySelectorAll('details').forEach(d => d.open = false)")
                sw = page.evaluate("document.documentElement.scrollWidth")
                msgs.append((w, "scrollWidth", sw))
                page.screenshot(path=f"/tmp/h20c_shots/stats-{w}-{lang}.png", full_page=True)
                ctx.close()
        b.close()
    srv.shutdown()
    print(msgs)
    assert not [m for m in msgs if m[1] in ("error", "pageerror")]
