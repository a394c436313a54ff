"""The app as the crash test serves it under gunicorn: the test's PostgreSQL schema (built by the
test, so no migration), no rate limits (one address sends everything), no search sync."""
from marketplace import create_app

app = create_app({"AUTO_MIGRATE": False, "RATELIMIT_ENABLED": False, "DEMO_DATA": False,
                  "SEARCH_SYNC_ON_COMMIT": False})
