"""The app as the crash test serves it under gunicorn: the test's PostgreSQL schema (built by the
test, so no migration), no rate limits (one address sends everything), no search sync, and no
anti-cornering limits (issue 14: six buyers keep many purchases open and cancel some; those
limits have their own tests in tests/trading/test_cornering.py)."""
from marketplace import create_app

app = create_app({"AUTO_MIGRATE": False, "RATELIMIT_ENABLED": False, "DEMO_DATA": False,
                  "SEARCH_SYNC_ON_COMMIT": False, "MAX_OPEN_RESERVATIONS": 10**6, "UNPAID_STRIKES": 10**6})
