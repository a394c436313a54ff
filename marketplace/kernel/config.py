"""Settings, read from the environment exactly as docs/api.md's table says.

Order (as in flaskr): these defaults, then the environment, then the
``config`` mapping handed to ``create_app`` (tests use it).
"""
import os
import secrets
import shlex
import sys
from pathlib import Path


def _int(name, default):
    raw = os.environ.get(name)
    return int(raw) if raw not in (None, "") else default


def _float(name, default):
    raw = os.environ.get(name)
    return float(raw) if raw not in (None, "") else default


def _flag(name, default):
    raw = os.environ.get(name)
    return raw == "1" if raw not in (None, "") else default


def _secret_key(instance_path: Path, embedded: bool):
    """``SECRET_KEY`` from the environment. Only the embedded default (one SQLite host) may make one up and
    keep it in the instance folder: hosts behind a load balancer must share one, so elsewhere it is required
    (``create_app`` refuses to start without it)."""
    key = os.environ.get("SECRET_KEY")
    if key:
        return key
    if not embedded:
        return None
    key_file = instance_path / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    key = secrets.token_hex(32)
    key_file.write_text(key)
    key_file.chmod(0o600)
    return key


def load_settings(instance_path: Path) -> dict:
    """Return the settings dict taken from the environment."""
    database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{instance_path / 'ipmart.sqlite3'}"
    is_default_sqlite = "DATABASE_URL" not in os.environ or not os.environ["DATABASE_URL"]
    return {
        "SECRET_KEY": _secret_key(instance_path, is_default_sqlite),
        # the schema is upgraded on start only on the embedded default; elsewhere `flask db upgrade` is a
        # deploy step (docs/operations.md), run once before the new code serves
        "AUTO_MIGRATE": _flag("AUTO_MIGRATE", is_default_sqlite),
        "SQLALCHEMY_DATABASE_URI": database_url,
        "DEMO_DATA": os.environ.get("DEMO_DATA", "1" if is_default_sqlite else "0") == "1",
        "PLATFORM_FEE_BPS": _int("PLATFORM_FEE_BPS", 300),
        "INSPECTION_DAYS": _int("INSPECTION_DAYS", 14),
        # a changed payout account receives no payout for this long (escrow.payouts)
        "PAYOUT_ACCOUNT_HOLD_HOURS": _int("PAYOUT_ACCOUNT_HOLD_HOURS", 48),
        "PAYMENT_DAYS": _int("PAYMENT_DAYS", 7),
        "TRANSFER_DAYS": _int("TRANSFER_DAYS", 90),
        "STRIPE_SECRET_KEY": os.environ.get("STRIPE_SECRET_KEY") or None,
        "STRIPE_WEBHOOK_SECRET": os.environ.get("STRIPE_WEBHOOK_SECRET") or None,
        "STRIPE_PUBLISHABLE_KEY": os.environ.get("STRIPE_PUBLISHABLE_KEY") or None,
        "STRIPE_API_BASE": os.environ.get("STRIPE_API_BASE") or None,
        "STRIPE_PAYMENT_METHOD_TYPES": (os.environ.get("STRIPE_PAYMENT_METHOD_TYPES") or "card").split(","),
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI", "memory://"),
        # reverse proxies in front of the app (each appends to X-Forwarded-For); 0: the peer is the client
        "TRUSTED_PROXIES": _int("TRUSTED_PROXIES", 0),
        # per client address (sign-in, registration) or per signed-in user (bids, offers); Flask-Limiter syntax
        "RATELIMIT_LOGIN": os.environ.get("RATELIMIT_LOGIN") or "10/minute;50/hour",
        "RATELIMIT_REGISTER": os.environ.get("RATELIMIT_REGISTER") or "5/minute;30/hour",
        "RATELIMIT_BID": os.environ.get("RATELIMIT_BID") or "30/minute",
        "RATELIMIT_OFFER": os.environ.get("RATELIMIT_OFFER") or "10/minute",
        "RATELIMIT_BUY": os.environ.get("RATELIMIT_BUY") or "5/minute;20/hour",
        # password reset (marketplace.kernel.password_reset): requests per client address, and per e-mail address asked
        # for (so nobody can flood one mailbox); a link is good for PASSWORD_RESET_MINUTES and for one use
        "RATELIMIT_RESET": os.environ.get("RATELIMIT_RESET") or "5/minute;20/hour",
        "RATELIMIT_RESET_PER_EMAIL": os.environ.get("RATELIMIT_RESET_PER_EMAIL") or "3/hour",
        "PASSWORD_RESET_MINUTES": _int("PASSWORD_RESET_MINUTES", 60),
        # the finance desk (docs/finance.md): valuations, loan applications, voucher batches and uses per address
        "RATELIMIT_FINANCE": os.environ.get("RATELIMIT_FINANCE") or "30/minute",
        "FINANCE_REVIEW_FEE": _int("FINANCE_REVIEW_FEE", 2000_00),  # fen: a valuation's sign-off (vouchers pay it)
        "SMTP_HOST": os.environ.get("SMTP_HOST") or None,
        "SMTP_PORT": _int("SMTP_PORT", 25),
        "MAIL_FROM": os.environ.get("MAIL_FROM", "noreply@ipmart.local"),
        # the 联系我们 page, the footer and the privacy policy name these (marketplace.web.sitepages)
        "SUPPORT_EMAIL": os.environ.get("SUPPORT_EMAIL") or "service@ipmart.local",
        "PRIVACY_EMAIL": os.environ.get("PRIVACY_EMAIL") or "privacy@ipmart.local",
        "SUPPORT_PHONE": os.environ.get("SUPPORT_PHONE") or None,
        "SUPPORT_HOURS": os.environ.get("SUPPORT_HOURS") or "9:00–18:00",
        "ANTI_SNIPING_MINUTES": _int("ANTI_SNIPING_MINUTES", 5),
        "AUCTION_POLL_MS": _int("AUCTION_POLL_MS", 10_000),  # how often an open auction panel asks for news
        "OFFER_DAYS": _int("OFFER_DAYS", 7),
        "OUTBOX_RETENTION_DAYS": _int("OUTBOX_RETENTION_DAYS", 7),
        "MAX_SAVED_SEARCHES": _int("MAX_SAVED_SEARCHES", 20),  # per user
        # the demand side (issue 22): wanted ads, answers, messages and data-room requests per user; open wanted
        # ads per buyer; data-room files (each) and rooms (in all), in bytes
        "RATELIMIT_WANTED": os.environ.get("RATELIMIT_WANTED") or "20/hour",
        # messages between buyers and sellers (issue 17, messaging/): messages sent per user
        "RATELIMIT_MESSAGE": os.environ.get("RATELIMIT_MESSAGE") or "20/minute;200/hour",
        "MAX_OPEN_WANTED": _int("MAX_OPEN_WANTED", 20),
        "DATAROOM_FILE_MAX_BYTES": _int("DATAROOM_FILE_MAX_BYTES", 10 * 1024 * 1024),
        "DATAROOM_MAX_BYTES": _int("DATAROOM_MAX_BYTES", 50 * 1024 * 1024),
        "NOTIFY_MAX_ATTEMPTS": _int("NOTIFY_MAX_ATTEMPTS", 5),  # tries per saved-search notice (in-app, e-mail)
        # cornering (issue 14): unpaid deals a buyer may hold at once, live negotiations per buyer,
        # and reservations left unpaid (lapsed or cancelled by the buyer) within UNPAID_STRIKE_DAYS
        # before the buyer's credit is restricted
        "MAX_OPEN_RESERVATIONS": _int("MAX_OPEN_RESERVATIONS", 3),
        "MAX_OPEN_OFFERS": _int("MAX_OPEN_OFFERS", 20),
        "UNPAID_STRIKES": _int("UNPAID_STRIKES", 3),
        "UNPAID_STRIKE_DAYS": _int("UNPAID_STRIKE_DAYS", 180),
        # Royalty periods (issue 16, escrow.royalties): a paid period is held this many days for the licensor to
        # check the report before it is released; a report or payment this many days late becomes a credit record.
        "ROYALTY_HOLD_DAYS": _int("ROYALTY_HOLD_DAYS", 7),
        "ROYALTY_GRACE_DAYS": _int("ROYALTY_GRACE_DAYS", 30),
        # operations (issue 21, docs/operations.md): logs, metrics, readiness, backups
        "LOG_FORMAT": (os.environ.get("LOG_FORMAT") or "json").lower(),  # json | text
        "LOG_ACCESS": os.environ.get("LOG_ACCESS", "0") == "1",  # off: gunicorn's access log is cheaper
        "METRICS_ALLOW_FROM": os.environ.get("METRICS_ALLOW_FROM", "127.0.0.1/32,::1/128"),
        "METRICS_TOKEN": os.environ.get("METRICS_TOKEN") or None,
        "READY_MAX_OUTBOX_LAG": _int("READY_MAX_OUTBOX_LAG", 1000),
        # cookies only over HTTPS (behind TLS); the "remember me" cookie too
        "SESSION_COOKIE_SECURE": _flag("SESSION_COOKIE_SECURE", False),
        "REMEMBER_COOKIE_SECURE": _flag("SESSION_COOKIE_SECURE", False),
        # search (docs/search.md): drain the outbox into this host's index after each commit; how long a
        # writer waits for the index lock; how long a gap in outbox ids is waited for; synonym terms per query
        "SEARCH_SYNC_ON_COMMIT": _flag("SEARCH_SYNC_ON_COMMIT", True),
        "SEARCH_WRITER_TIMEOUT": _float("SEARCH_WRITER_TIMEOUT", 2.0),
        "SEARCH_OUTBOX_GAP_SECONDS": _int("SEARCH_OUTBOX_GAP_SECONDS", 30),
        "SEARCH_MAX_EXPANSIONS": min(32, max(0, _int("SEARCH_MAX_EXPANSIONS", 8))),
        # Stripe's client: seconds per call, and its own retries of a failed connection (idempotent keys)
        "STRIPE_TIMEOUT_SECONDS": _float("STRIPE_TIMEOUT_SECONDS", 20.0),
        "STRIPE_MAX_NETWORK_RETRIES": _int("STRIPE_MAX_NETWORK_RETRIES", 2),
        # the ~1,000 generated demo listings besides the tour (0: the tour only, as the tests seed)
        "DEMO_CATALOGUE_VOLUME": _flag("DEMO_CATALOGUE_VOLUME", True),
        "BACKUP_PATH": os.environ.get("BACKUP_PATH") or str(instance_path / "backups"),
        # background jobs (marketplace.kernel.jobs): RQ on Redis when set; unset, jobs run in-process after commit
        "REDIS_URL": os.environ.get("REDIS_URL") or None,
        "JOB_QUEUE_PREFIX": os.environ.get("JOB_QUEUE_PREFIX") or "ipmart",
        "WORKER_HOST": os.environ.get("WORKER_HOST") or None,  # this host's queue name (default: the hostname)
        "JOB_RETRY_INTERVALS": os.environ.get("JOB_RETRY_INTERVALS") or "10,60,300,900,3600",  # seconds
        "JOB_TIMEOUT": _int("JOB_TIMEOUT", 300),
        # run each job at enqueue, in the enqueuing process, still through RQ and Redis (RQ's is_async=False):
        # what the test suite's worker-mode run uses (JOB_TEST_MODE=redis); never on a real deployment
        "JOB_SYNC": _flag("JOB_SYNC", False),
        # how often a worker looks for jobs abandoned by a dead worker (they are retried about 60 s after
        # their last heartbeat) and cleans the registries
        "JOB_MAINTENANCE_INTERVAL": _int("JOB_MAINTENANCE_INTERVAL", 60),
        "JOB_INDEX_INTERVAL": _int("JOB_INDEX_INTERVAL", 5),
        "JOB_DEADLINES_INTERVAL": _int("JOB_DEADLINES_INTERVAL", 60),
        "JOB_RETENTION_INTERVAL": _int("JOB_RETENTION_INTERVAL", 3600),
        "JOB_REPORT_INTERVAL": _int("JOB_REPORT_INTERVAL", 86400),
        # personal data (PIPL, marketplace.web.privacy): how long read notifications and delivered notices stay
        "NOTIFICATION_RETENTION_DAYS": _int("NOTIFICATION_RETENTION_DAYS", 180),
        "TOKEN_RETENTION_DAYS": _int("TOKEN_RETENTION_DAYS", 90),  # revoked API tokens
        # pages for anonymous visitors (issue 19, docs/performance.md): Flask-Caching; SimpleCache is per process
        # (its generation is a file in the instance folder), RedisCache + CACHE_REDIS_URL is shared by hosts
        "PAGE_CACHE": _flag("PAGE_CACHE", True),
        "PAGE_CACHE_TIMEOUT": _int("PAGE_CACHE_TIMEOUT", 300),
        "CACHE_TYPE": os.environ.get("CACHE_TYPE") or ("RedisCache" if os.environ.get("CACHE_REDIS_URL")
                                                        else "SimpleCache"),
        "CACHE_REDIS_URL": os.environ.get("CACHE_REDIS_URL") or None,
    }


def configured_workers(environ=None, argv=None):
    """How many gunicorn workers this process is one of, as far as the environment says (None: unknown).

    ``WEB_CONCURRENCY`` (gunicorn's and most platforms' variable), then ``-w N`` / ``--workers N`` in
    ``GUNICORN_CMD_ARGS`` or on gunicorn's own command line. The project's gunicorn.conf.py sets no worker
    count; another settings file is not read.
    """
    environ = os.environ if environ is None else environ
    argv = sys.argv if argv is None else argv
    found = None
    try:
        args = shlex.split(environ.get("GUNICORN_CMD_ARGS", ""))
    except ValueError:
        args = []
    if argv and os.path.basename(str(argv[0])).startswith("gunicorn"):
        args += [str(a) for a in argv[1:]]
    for i, arg in enumerate(args):
        value = None
        if arg in ("-w", "--workers") and i + 1 < len(args):
            value = args[i + 1]
        elif arg.startswith("--workers="):
            value = arg.split("=", 1)[1]
        elif arg.startswith("-w") and arg[2:].isdigit():
            value = arg[2:]
        if value is not None and value.strip().isascii() and value.strip().isdigit():
            found = int(value)  # the last one wins, as on gunicorn's command line
    concurrency = (environ.get("WEB_CONCURRENCY") or "").strip()
    if found is None and concurrency.isascii() and concurrency.isdigit():
        found = int(concurrency)
    return found


def per_worker_limits_warning(config, environ=None, argv=None):
    """The warning to log when rate limits are kept in process memory under several workers, else None."""
    if not config.get("RATELIMIT_ENABLED", True):
        return None
    if not str(config.get("RATELIMIT_STORAGE_URI") or "memory://").startswith("memory://"):
        return None
    workers = configured_workers(environ, argv)
    if not workers or workers < 2:
        return None
    return (f"RATELIMIT_STORAGE_URI is memory:// under {workers} workers: every worker counts on its own, so "
            f"each rate limit is in effect {workers} times as high; set RATELIMIT_STORAGE_URI=redis://… "
            "to share the counts")


DEFAULTS = {
    # No pool_pre_ping: a pooled connection is checked on checkout without a round trip, and pinged only after
    # DB_PING_AFTER_IDLE seconds unused (marketplace/kernel/dbliveness.py).
    "SQLALCHEMY_ENGINE_OPTIONS": {},
    "DB_PING_AFTER_IDLE": 30.0,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "REMEMBER_COOKIE_HTTPONLY": True,
    "REMEMBER_COOKIE_SAMESITE": "Lax",
    "WTF_CSRF_TIME_LIMIT": None,
    "BABEL_DEFAULT_LOCALE": "zh_CN",
    "BABEL_DEFAULT_TIMEZONE": "Asia/Shanghai",
    "LANGUAGES": {"zh_CN": "中文", "en": "English"},
    "MAX_CONTENT_LENGTH": 12 * 1024 * 1024,
    "UPLOAD_MAX_BYTES": 10 * 1024 * 1024,
    "IMAGE_MAX_BYTES": 2 * 1024 * 1024,
    "RATELIMIT_HEADERS_ENABLED": True,
    "PLATFORM_BANK": {
        "account_name": "知产超市（广东）科技有限公司客户资金存管专户",
        "bank": "中国银行广州天河支行",
        "account_number": "6216 6100 0001 2345 678",
    },
}
