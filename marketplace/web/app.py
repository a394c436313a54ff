"""IP Mart (知产超市): the application factory.

The shell's top: it imports the kernel, every domain package's models (so metadata and Alembic see every table),
views and APIs (the blueprints), and every module that registers a background job. Nothing but wsgi.py, the
tests and ``marketplace.create_app`` imports this module, so it closes no cycle. Importing search.outbox here,
before create_app runs pagecache.init_app, also orders the two after_commit hooks: the search index is brought up
to date before the page cache's generation moves (marketplace.kernel.pagecache._listen).
"""
import fcntl
import hmac
import logging
import os
import sqlite3
from pathlib import Path

from flask import Flask, jsonify, render_template, request
from flask.json.provider import DefaultJSONProvider
from flask.sessions import SecureCookieSessionInterface
from flask_babel import get_locale, gettext
from flask_login import current_user
from flask_migrate import upgrade
from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

import demand.api
import demand.models
import demand.views
import escrow.api
import escrow.deadlines  # noqa: F401  (registers the "deadlines" job)
import escrow.deposit_views
import escrow.licensing_views
import escrow.models
import escrow.paper_api
import escrow.paper_views
import escrow.payment_views
import escrow.payout_views
import escrow.trading_api
import escrow.trading_views
import escrow.views
import escrow.webhooks
import finance.api
import finance.models
import finance.views
import listings.api
import listings.grading_api
import listings.grading_views
import listings.models
import listings.register_views
import listings.rights_views
import listings.views
import messaging.api
import messaging.models
import messaging.views
import search.api
import search.models
import search.outbox  # noqa: F401  (registers the "index_drain" job; its after_commit hook before the page cache's)
import search.views
from listings.demo import seed_if_empty
from search.outbox import sync_quietly

from ..kernel import config as config_module
from ..kernel import dbliveness, i18n, labels, observability, pagecache, readonly
from ..kernel.errors import DomainError, ValidationError
from ..kernel.extensions import babel, csrf, db, limiter, login_manager, migrate
from ..kernel.models import User
from ..kernel.money import display_yuan
from ..kernel.notify import unread_count_for
from ..kernel.numbers import NumberError, loads_bounded, parse_int
from ..kernel.regions import region_label
from ..kernel.security import set_security_headers
from ..kernel.timeutil import local

# privacy and stats register the "retention" and "stats_report" jobs
from . import auth, health, openapi, operator, privacy, sitepages, stats, storefront  # noqa: F401
from .cli import register_cli

ROOT = Path(__file__).resolve().parents[2]  # the repository (this file is marketplace/web/app.py)
MIGRATIONS = str(ROOT / "marketplace" / "migrations")
log = logging.getLogger(__name__)


def create_app(config=None):
    """Build the app: defaults, then the environment, then ``config`` (tests pass overrides)."""
    config = dict(config or {})
    instance_path = Path(config.pop("INSTANCE_PATH", None) or os.environ.get("INSTANCE_PATH") or ROOT / "instance")
    instance_path = instance_path.resolve()
    instance_path.mkdir(parents=True, exist_ok=True)
    app = SyncOnceFlask("marketplace", instance_path=str(instance_path), template_folder=str(ROOT / "templates"),
                        static_folder="static")
    app.url_map.converters["int"] = DatabaseIntConverter  # before any blueprint adds its rules
    app.json = BoundedJSONProvider(app)
    app.config.update(config_module.DEFAULTS)
    app.config.update(config_module.load_settings(instance_path))
    app.config.update(config)
    if not app.config.get("SECRET_KEY"):
        raise RuntimeError("SECRET_KEY must be set when DATABASE_URL is: every host behind a load balancer needs "
                           "the same key, or a session signed by one host is refused by the next (docs/operations.md)")
    app.config["UPLOAD_PATH"] = str(instance_path / "uploads")
    app.config.setdefault("SEARCH_INDEX_PATH", str(instance_path / "search_index"))

    i18n.compile_catalogues()
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = ";".join(i18n.translation_dirs())

    db.init_app(app)
    with app.app_context():
        for engine in db.engines.values():
            dbliveness.install(engine, app.config["DB_PING_AFTER_IDLE"])
    readonly.init_app(app, db)
    migrate.init_app(app, db, directory=MIGRATIONS, render_as_batch=True)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = None
    # CSRFProtect checks POST/PUT/PATCH/DELETE only; its own hook works out exemptions before it looks at the
    # method, so the check runs from ``_check_csrf`` below, for those methods only (Flask-WTF's documented way).
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    csrf.init_app(app)
    app.before_request(_csrf_check(app))  # first, where Flask-WTF's own hook ran
    limiter.init_app(app)
    app.session_interface = KeptSerializerSessionInterface()
    _trust_proxies(app)
    observability.init_app(app)
    health.init_app(app)
    babel.init_app(app, locale_selector=i18n.babel_locale, timezone_selector=lambda: "Asia/Shanghai")
    i18n.install_template_gettext(app)

    pagecache.init_app(app)
    _register_blueprints(app)
    _register_errors(app)
    _register_template_helpers(app)
    set_security_headers(app)
    _drop_idle_limit_check(app)
    register_cli(app)

    @login_manager.user_loader
    def load_user(alternative_id):
        return user_for_session(alternative_id)

    @app.get("/healthz")
    def healthz():
        return jsonify({"status": "ok"})

    if app.config["AUTO_MIGRATE"]:
        with app.app_context():
            prepare_database(app)
    return app


def _trust_proxies(app):
    """Behind ``TRUSTED_PROXIES`` reverse proxies, take the client address (rate limits, logs) and the scheme
    from the X-Forwarded-For / -Proto values those proxies appended; anything further left is the client's own
    claim and ignored. Warn when rate limits are counted per worker (memory:// under several workers)."""
    hops = int(app.config.get("TRUSTED_PROXIES") or 0)
    if hops > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=0, x_port=0, x_prefix=0)
    warning = config_module.per_worker_limits_warning(app.config)
    if warning:
        log.warning(warning)


def _csrf_check(app):
    unsafe = frozenset(app.config.get("WTF_CSRF_METHODS") or ("POST", "PUT", "PATCH", "DELETE"))

    def _check_csrf():
        if request.method in unsafe and app.config.get("WTF_CSRF_ENABLED", True):
            csrf.protect(apply_exemptions=True)

    return _check_csrf


def _drop_idle_limit_check(app):
    """Flask-Limiter checks a route's own limits (``@limiter.limit``) inside that decorator; its app-wide
    ``before_request`` hook applies only application, default, blueprint and meta limits. This app sets none
    of those, so that hook would resolve an empty set of limits on every request (about a sixth of what
    ``/healthz`` costs): it is taken off. Should any such limit be configured, the hook stays."""
    manager = getattr(limiter, "limit_manager", None)
    if not limiter.enabled or manager is None:
        return
    try:
        app_wide = (manager.application_limits or manager.default_limits or manager._blueprint_limits
                    or limiter._meta_limits)
    except AttributeError:  # another Flask-Limiter: keep its hook
        return
    if not app_wide:
        hooks = app.before_request_funcs.get(None, [])
        if limiter._check_request_limit in hooks:
            hooks.remove(limiter._check_request_limit)


class KeptSerializerSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with the signing serializer built once per key set rather than on every
    request (building it runs a trial ``dumps`` in itsdangerous: ~30 µs of every request, cookie or not)."""

    _kept = None

    def get_signing_serializer(self, app):
        keys = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        kept = self._kept
        if kept is None or kept[0] != keys:
            kept = self._kept = (keys, super().get_signing_serializer(app))
        return kept[1]

    def save_session(self, app, session, response):
        # An empty session nobody wrote to: Flask would only add "Vary: Cookie" (re-parsing the header to do so).
        # When the answer already varies on the cookie (every cached page's does), there is nothing to do.
        if not session and not session.modified and _varies_on_cookie(response):
            return None
        return super().save_session(app, session, response)


def _varies_on_cookie(response):
    vary = response.headers.get("Vary")
    return bool(vary) and any(part.strip().lower() == "cookie" for part in vary.split(","))


class SyncOnceFlask(Flask):
    """Flask asks ``inspect.iscoroutinefunction`` about every hook and view on every request (13 times a
    request here); the answer for a given function never changes, so it is remembered (bounded)."""

    _sync_kept = None

    def ensure_sync(self, func):
        kept = self._sync_kept
        if kept is None:
            kept = self._sync_kept = {}
        try:
            return kept[func]
        except KeyError:
            pass
        except TypeError:  # unhashable
            return super().ensure_sync(func)
        found = super().ensure_sync(func)
        if len(kept) < 4096:
            kept[func] = found
        return found


def user_for_session(alternative_id):
    """The user a session or remember-me cookie names ("<id>:<session_token>"), or None when the token is no
    longer theirs (they changed the password or signed out since) or the value is malformed (a bare old id)."""
    user_id, _sep, token = (alternative_id or "").partition(":")
    if not (user_id.isascii() and user_id.isdigit() and len(user_id) <= 10) or not token \
            or int(user_id) > DatabaseIntConverter.MAX:
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not hmac.compare_digest(user.session_token.encode(), token.encode()):
        return None
    return user


class BoundedJSONProvider(DefaultJSONProvider):
    """Request bodies: NaN, Infinity and numbers beyond ``numbers.MAX_DIGITS`` digits are not JSON we take
    (Python's json accepts the first two, and ``1e999`` as infinity); such a body is refused like any
    malformed one (``apiutil.json_body`` names the reason)."""

    def loads(self, s, **kwargs):
        return loads_bounded(super().loads, s, **kwargs)


class DatabaseIntConverter(IntegerConverter):
    """``<int:…>`` for the database's INTEGER ids (int4 on PostgreSQL): a larger number is a 404 at once,
    never a 500 from the driver (nor a 405 because another method's rule has the same shape)."""

    MAX = 2**31 - 1
    regex = r"[0-9]+"  # ASCII digits only (``\d`` would take ``٣`` and ``３``)

    def to_python(self, value):
        try:  # bounded: a 10,000-digit id is refused before int() works on it
            return parse_int(value, minimum=0, maximum=self.MAX, max_digits=10)
        except NumberError:
            raise NotFound() from None


def _register_blueprints(app):
    html = [auth.bp, storefront.bp, sitepages.bp, operator.bp, listings.views.bp, listings.grading_views.bp,
            escrow.views.bp, escrow.trading_views.bp, escrow.payment_views.bp, escrow.paper_views.bp,
            search.views.bp, listings.rights_views.bp, listings.register_views.bp, escrow.payout_views.bp,
            escrow.deposit_views.bp, escrow.licensing_views.bp, demand.views.bp, finance.views.bp, messaging.views.bp]
    apis = [auth.api, openapi.bp, listings.api.bp, listings.grading_api.bp, escrow.api.bp,
            escrow.trading_api.bp, escrow.paper_api.bp, escrow.webhooks.bp, search.api.bp, listings.rights_views.api,
            listings.register_views.api, escrow.payout_views.api, escrow.deposit_views.api,
            escrow.licensing_views.api, demand.api.bp, finance.api.bp, messaging.api.bp]
    for bp in html:
        app.register_blueprint(bp)
    for bp in apis:
        csrf.exempt(bp)  # bearer tokens, never cookies: CSRF cannot reach the API
        app.register_blueprint(bp)


def _nul_paths(value, path=""):
    """Where in a JSON value a string (or a key) holds a NUL character: ["title", "rights.0.goods.1"]."""
    if isinstance(value, str):
        return [path or "body"] if "\x00" in value else []
    if isinstance(value, dict):
        found = []
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            found += [where.replace("\x00", "") or "body"] if "\x00" in str(key) else _nul_paths(item, where)
        return found
    if isinstance(value, list):
        return [p for i, item in enumerate(value) for p in _nul_paths(item, f"{path}.{i}" if path else str(i))]
    return []


def _refuse_nul_characters():
    """PostgreSQL cannot store NUL in text: a request body holding one (JSON, form field, file name) is a 422
    naming the field before any view runs, never a 500 at the INSERT. Query strings are the views' to read.
    A request without a Content-Type (every GET a browser sends) has no form, file or JSON to look at."""
    if not request.environ.get("CONTENT_TYPE"):
        return
    fields = {}
    for key, items in request.form.lists():
        if "\x00" in key or any("\x00" in item for item in items):
            fields[key.replace("\x00", "")] = gettext("不能包含 NUL 字符")
    for key, upload in request.files.items():
        if "\x00" in (upload.filename or ""):
            fields[key] = gettext("文件名不能包含 NUL 字符")
    if request.is_json:
        fields.update(dict.fromkeys(_nul_paths(request.get_json(silent=True)), gettext("不能包含 NUL 字符")))
    if fields:
        raise ValidationError(gettext("请求中含有不允许的 NUL 字符"), fields)


def _is_api():
    return request.path.startswith("/api/")


def _register_errors(app):
    app.before_request(_refuse_nul_characters)

    @app.errorhandler(DomainError)
    def domain_error(exc):
        if _is_api():
            return jsonify(exc.to_dict()), exc.status
        return render_template("error.html", status=exc.status, message=exc.message), exc.status

    @app.errorhandler(HTTPException)
    def http_error(exc):
        if _is_api():
            codes = {400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found",
                     405: "method_not_allowed", 409: "conflict", 413: "too_large", 415: "unsupported_media_type",
                     429: "rate_limited"}
            body = {"code": codes.get(exc.code, "http_error"), "message": exc.description or exc.name}
            response = jsonify({"error": body})
            response.status_code = exc.code
            if exc.code == 405 and exc.valid_methods:
                response.headers["Allow"] = ", ".join(exc.valid_methods)
            return response
        if exc.code and exc.code >= 400:
            return render_template("error.html", status=exc.code, message=exc.description), exc.code
        return exc

    @app.errorhandler(Exception)
    def unexpected(exc):
        db.session.rollback()
        log.exception("unhandled error on %s %s", request.method, request.path)
        if _is_api():
            return jsonify({"error": {"code": "internal_error", "message": "服务器内部错误，请稍后重试"}}), 500
        return render_template("error.html", status=500, message=None), 500


def _register_template_helpers(app):
    @app.template_filter("yuan")
    def yuan(fen, currency="CNY"):
        return display_yuan(fen, currency)  # 万 in Chinese, ¥220,000 in English

    @app.template_filter("paren")
    def paren(text):
        """An aside in brackets as the reader's language writes it: （…） in Chinese, " (…)" in English."""
        from markupsafe import Markup

        return (Markup(" (%s)") if str(get_locale()).startswith("en") else Markup("（%s）")) % text

    @app.template_filter("localtime")
    def localtime(value, fmt="%Y-%m-%d %H:%M"):
        value = local(value)
        return value.strftime(fmt) if value else ""

    @app.template_filter("region")
    def region(code):
        return region_label(code, str(get_locale()))

    @app.template_filter("role_names")
    def role_names(codes):
        return labels.role_names(codes)  # 卖方、买方, never seller, buyer

    @app.context_processor
    def common():
        unread = 0
        if current_user.is_authenticated:  # read once a request (on the request: ``g`` may outlive it in tests)
            unread = unread_count_for(current_user)
        locale = str(get_locale())
        return {"unread_notifications": unread, "current_locale": "en" if locale.startswith("en") else "zh_CN",
                "languages": app.config["LANGUAGES"],
                "url_map_endpoints": app.view_functions}


def prepare_database(app):
    """Upgrade the schema (an empty database gets every migration) and seed the demo catalogue once.

    Several gunicorn workers (or hosts) start at once: a file lock in the instance
    folder serialises this host's workers and a PostgreSQL advisory lock the hosts.
    """
    lock_path = Path(app.instance_path) / ".schema.lock"
    with open(lock_path, "w") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            is_pg = db.engine.dialect.name == "postgresql"
            if is_pg:
                with db.engine.connect() as conn:
                    conn.execute(text("SELECT pg_advisory_lock(4242001)"))
                    try:
                        upgrade(directory=MIGRATIONS)
                        _seed_demo(app)
                    finally:
                        conn.execute(text("SELECT pg_advisory_unlock(4242001)"))
                        conn.commit()
            else:
                upgrade(directory=MIGRATIONS)
                _seed_demo(app)
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def _seed_demo(app):
    if app.config.get("DEMO_DATA"):
        if seed_if_empty():
            db.session.commit()
            # The index is derived: bring it up to date now rather than on the first change.
            sync_quietly(app)


# SQLite: enforce foreign keys, and let concurrent writers wait instead of failing at once.
@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()
