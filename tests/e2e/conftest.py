"""Real-browser tests: the app served by gunicorn on loopback, driven by Playwright in Debian's chromium.

Never downloads a browser: Playwright launches ``/usr/bin/chromium`` (``CHROMIUM_PATH``)
headless, without sandbox and with background networking off. On failure a screenshot
is kept under ``test-artifacts/``.
"""
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.factories import free_port

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def live_server(tmp_path_factory):
    """gunicorn serving a fresh instance (SQLite, or TEST_DATABASE_URL), yields (base_url, env)."""
    instance = tmp_path_factory.mktemp("e2e-instance")
    port = free_port()
    env = {**os.environ, "INSTANCE_PATH": str(instance), "DEMO_DATA": "0", "SECRET_KEY": "e2e-secret",
           "RATELIMIT_STORAGE_URI": "memory://", "INSPECTION_DAYS": "14",
           # the demo tour only: the journeys act as its accounts (the ~1,000 generated listings of other demo
           # sellers would crowd the queues and the searches they use)
           "DEMO_CATALOGUE_VOLUME": "0",
           # every journey signs in from 127.0.0.1: the limits stay on, above what the journeys need together
           # (the limits themselves are tested in tests/security/test_rate_limits.py)
           "RATELIMIT_LOGIN": "300/minute", "RATELIMIT_REGISTER": "100/minute",
           # Auctions must end at least an hour after they are published; with a 90-minute anti-sniping
           # window one ending in 75 minutes is already in its final window (test_auction_journey).
           "ANTI_SNIPING_MINUTES": "90"}
    env.pop("STRIPE_SECRET_KEY", None)
    if os.environ.get("TEST_DATABASE_URL"):
        env["DATABASE_URL"] = os.environ["TEST_DATABASE_URL"]
    else:
        env["DATABASE_URL"] = f"sqlite:///{instance / 'e2e.sqlite3'}"
    # the deploy step of docs/operations.md: the schema is upgraded once, before the workers start
    subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=env, check=True,
                   capture_output=True)
    log = open(instance / "gunicorn.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}",
                             "--timeout", "60", "wsgi:app"], cwd=ROOT, env=env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while True:
        try:
            urllib.request.urlopen(base + "/healthz", timeout=2)
            break
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                log.close()
                raise RuntimeError("gunicorn did not start:\n"
                                   + (instance / "gunicorn.log").read_text()[-4000:]) from None
            time.sleep(0.3)
    yield base, env
    proc.terminate()
    proc.wait(timeout=20)
    log.close()


@pytest.fixture(scope="session")
def flask_cli(live_server):
    """Run ``flask --app wsgi …`` against the live server's instance and database."""
    _base, env = live_server

    def run(*args):
        result = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    return run


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def new_page(browser, request):
    """new_page() opens a fresh browser context (its own cookies) and page; screenshots on failure.

    ``timezone_id`` (e.g. "Europe/Berlin") sets the browser's clock zone; default: the machine's.
    """
    contexts = []

    def make(locale="zh-CN", timezone_id=None):
        context = browser.new_context(locale=locale, timezone_id=timezone_id, viewport={"width": 1280, "height": 900})
        context.set_default_timeout(15000)
        contexts.append(context)
        return context.new_page()

    yield make
    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    if failed:
        ARTIFACTS.mkdir(exist_ok=True)
        for i, context in enumerate(contexts):
            for j, page in enumerate(context.pages):
                page.screenshot(path=str(ARTIFACTS / f"{request.node.name}-{i}-{j}.png"), full_page=True)
    for context in contexts:
        context.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, "rep_" + report.when, report)


def pytest_collection_modifyitems(config, items):
    """Journeys marked ``clock_jump`` run ``deadlines run --now`` days ahead on the shared live server, which
    closes every auction there (the demo catalogue's too): they run after the others."""
    items.sort(key=lambda item: item.get_closest_marker("clock_jump") is not None)
