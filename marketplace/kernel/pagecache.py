"""Cached pages for anonymous visitors, conditional GET, fingerprinted static files (issue 19, docs/performance.md).

**What is cached.** A view wrapped in ``@cached_page()`` stores its finished body (HTML or JSON) in the
Flask-Caching cache when the request is anonymous and the answer is the same for every anonymous visitor:
no signed-in user (no ``_user_id`` in the session, no remember-me cookie, no API token), no flash message
waiting, a 200 that set no cookie, touched no session value and made no CSRF token. Anything per-request
(the header's unread count, the signed-in state, CSRF tokens, flashes) therefore never enters the cache:
signed-in requests bypass it. The key holds the endpoint, the language the request resolves to
(``i18n.select_locale``, without Babel's parsing), the path with its query string, and whatever the view
adds (the search pages add the synonym files' stamp).

**Invalidation.** Every entry carries the *generation* it was rendered under; an entry from another
generation is a miss. The generation changes after every commit that wrote to the listings outbox (the
rows ``listings.outbox`` writes for every listing, right, auction change: the same stream the search index
follows) or changed any other row (an organisation's verification, a deal for the statistics, a right not
yet listed), so a new price, a sale or a withdrawal shows on the next request. It changes *after* the
search index's own after-commit drain, so a search page rendered between the two is never kept; and every
outbox drain that applies rows (after a commit, or ``flask search follow`` applying another host's) or index
rebuild changes it once the index has them. Commits
that touch only private rows (notifications, sessions, tokens) leave it alone.

Where the generation lives depends on the cache: with a cache local to the process (``SimpleCache``, the
default) it is a small file in the instance folder that every worker of this host reads (one ``read`` a
request); with a shared cache (``RedisCache`` with ``CACHE_REDIS_URL``, or any other non-local type) it is
a key in that cache, read in the same round trip as the page (``get_many``), so a commit on one host
invalidates every host's pages at once.

A page that shows a clock (an open auction's time left) is kept at most ``limit_lifetime`` seconds.

**Conditional GET.** Every answer of a wrapped view gets a strong ETag (a hash of its body, so it can say
nothing another body does not) and is answered 304 when ``If-None-Match`` names it. Anonymous answers are
``Cache-Control: no-cache`` (revalidate every time) with ``Vary: Cookie``; signed-in ones ``private,
no-cache``, so no shared cache ever stores a signed-in page.

**Static files.** ``url_for('static', filename=…)`` adds ``v=<first 12 hex of the file's SHA-256>``; a
request carrying the current fingerprint is answered ``public, max-age=31536000, immutable``, any other
``no-cache``. A changed file gets a new URL, so browsers never keep an old stylesheet.
"""
import hashlib
import os
import secrets
import time
from functools import wraps
from pathlib import Path

from flask import current_app, g, has_app_context, make_response, request, session
from sqlalchemy import event
from sqlalchemy.orm import Session
from werkzeug.http import quote_etag

from .extensions import cache
from .i18n import select_locale

GENERATION_KEY = "pages:generation"
GENERATION_FILE = "page_cache.generation"
LOCAL_TYPES = {"simple", "simplecache", "null", "nullcache", "flask_caching.backends.simplecache",
               "flask_caching.backends.simplecache.simplecache", "flask_caching.backends.nullcache"}
STATIC_MAX_AGE = 365 * 24 * 3600
MAX_KEY_PATH = 2000  # longer paths (with their query strings) are not cached
# Tables only their owner ever sees: a commit touching nothing else leaves the cached pages alone.
PRIVATE_TABLES = frozenset({"notifications", "saved_search_notices", "saved_searches", "api_tokens", "audit_log",
                            "processed_webhook_events", "message_threads", "messages"})


def init_app(app):
    cfg = app.config
    cfg.setdefault("PAGE_CACHE", True)
    cfg.setdefault("PAGE_CACHE_TIMEOUT", 300)
    cfg.setdefault("CACHE_TYPE", "SimpleCache")
    cfg.setdefault("CACHE_DEFAULT_TIMEOUT", cfg["PAGE_CACHE_TIMEOUT"])
    cfg.setdefault("CACHE_KEY_PREFIX", "ipmart:")
    cfg.setdefault("CACHE_THRESHOLD", 2000)  # SimpleCache / FileSystemCache: entries per process / folder
    cache.init_app(app)
    app.extensions["page_cache_shared"] = str(cfg["CACHE_TYPE"]).lower() not in LOCAL_TYPES
    app.extensions["page_cache_generation_file"] = Path(app.instance_path) / GENERATION_FILE
    _init_static(app)


# --- the generation ----------------------------------------------------------------------------------------

def _read_local_generation(app):
    try:
        with open(app.extensions["page_cache_generation_file"], "rb") as fh:
            return fh.read()
    except OSError:
        return b""


def bump_generation(app=None):
    """Make every cached page of this host (and, with a shared cache, of every host) a miss. Never raises."""
    app = app or current_app._get_current_object()
    token = f"{time.time_ns()}-{os.getpid()}-{secrets.token_hex(4)}"
    path = app.extensions["page_cache_generation_file"]
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        tmp.write_text(token)
        os.replace(tmp, path)
    except OSError:
        app.logger.warning("could not write the page cache generation", exc_info=True)
    if app.extensions.get("page_cache_shared"):
        try:
            with app.app_context():
                cache.set(GENERATION_KEY, token, timeout=0)
        except Exception:  # noqa: BLE001 - a cache outage must not fail the commit that already happened
            app.logger.warning("could not bump the shared page cache generation", exc_info=True)


def _note_changes(session_, flush_context):
    for obj in (*session_.new, *session_.dirty, *session_.deleted):
        table = getattr(obj, "__tablename__", None)
        if table not in PRIVATE_TABLES:
            session_.info["pages_stale"] = True
            return


def _note_bulk(orm_execute_state):
    if orm_execute_state.is_update or orm_execute_state.is_delete or orm_execute_state.is_insert:
        session_ = orm_execute_state.session
        mapper = orm_execute_state.bind_mapper
        if mapper is None or mapper.persist_selectable.name not in PRIVATE_TABLES:
            session_.info["pages_stale"] = True


def mark_stale(session_):
    """Called by ``listings.outbox`` whenever it writes outbox rows: the commit then bumps the generation."""
    session_.info["pages_stale"] = True


def _forget(session_):
    session_.info.pop("pages_stale", None)


def _after_commit(session_):
    if session_.in_nested_transaction() or not session_.info.pop("pages_stale", False):
        return
    if has_app_context() and "page_cache_generation_file" in current_app.extensions:
        bump_generation()


def _listen():
    # After search.outbox's own after_commit hook (listeners run in the order they were added): the search
    # index is brought up to date first, so a page rendered from the old index is never kept. The kernel
    # imports no domain package: the application factory imports search.outbox before it calls init_app.
    if not event.contains(Session, "after_commit", _after_commit):
        event.listen(Session, "after_flush", _note_changes)
        event.listen(Session, "do_orm_execute", _note_bulk)
        event.listen(Session, "after_rollback", _forget)
        event.listen(Session, "after_commit", _after_commit)


# --- the page cache ----------------------------------------------------------------------------------------

def signed_in_request():
    """True when the request may belong to someone (read without loading the user)."""
    if request.headers.get("Authorization"):
        return True
    if current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token") in request.cookies:
        return True
    return "_user_id" in session


def _anonymous_request():
    """Nobody's own: no user, no token, no flash message waiting."""
    return not signed_in_request() and "_flashes" not in session


def _cacheable_request():
    if not current_app.config.get("PAGE_CACHE") or request.method not in ("GET", "HEAD"):
        return False
    return len(request.full_path) <= MAX_KEY_PATH and _anonymous_request()


def limit_lifetime(seconds):
    """The page being rendered shows something that changes with time: keep it at most ``seconds``."""
    g.page_cache_lifetime = min(int(seconds), getattr(g, "page_cache_lifetime", 1 << 30))


def _page_key(vary):
    extra = vary() if vary else ""
    digest = hashlib.sha1(f"{request.full_path}\0{extra}".encode()).hexdigest()
    return f"page:{request.endpoint}:{select_locale()}:{digest}"


def _generation_and_entry(key):
    app = current_app
    if app.extensions["page_cache_shared"]:
        generation, entry = cache.get_many(GENERATION_KEY, key)
        return generation, entry
    return _read_local_generation(app), cache.get(key)


def _etag(body):
    return hashlib.sha256(body).hexdigest()[:32]


_VARY_PAGE = ("Cookie",)
_VARY_API = ("Cookie", "Accept-Language", "Authorization")


def _finish(response, etag, public):
    headers = response.headers
    headers["ETag"] = quote_etag(etag)
    headers["Cache-Control"] = "no-cache" if public else "private, no-cache"
    wanted = _VARY_API if request.path.startswith("/api/") else _VARY_PAGE
    if "Vary" in headers:  # the view said what else its answer depends on: add ours
        vary = response.vary
        for name in wanted:
            vary.add(name)
    else:  # the usual case: set in one go (each ``vary.add`` re-parses and re-quotes the whole header)
        headers["Vary"] = ", ".join(wanted)
    if "If-None-Match" in request.headers:  # the only precondition these answers support (no Last-Modified)
        return response.make_conditional(request)
    return response


def cached_page(vary=None):
    """Serve the view's anonymous answers from the cache (see the module's docstring); ETags for every answer."""
    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if not _cacheable_request():
                anonymous = _anonymous_request()
                response = make_response(view(*args, **kwargs))
                if response.status_code == 200 and not response.direct_passthrough:
                    public = anonymous and _response_is_shared(response)
                    response = _finish(response, _etag(response.get_data()), public=public)
                return response
            key = _page_key(vary)
            generation, entry = _generation_and_entry(key)
            if entry is not None and entry[0] == generation:
                _gen, etag, body, mimetype = entry
                response = current_app.response_class(body, mimetype=mimetype)
                return _finish(response, etag, public=True)
            response = make_response(view(*args, **kwargs))
            if response.status_code != 200 or response.direct_passthrough:
                return response
            body = response.get_data()
            etag = _etag(body)
            if _response_is_shared(response):
                lifetime = min(current_app.config["PAGE_CACHE_TIMEOUT"], g.pop("page_cache_lifetime", 1 << 30))
                if lifetime > 0:
                    try:
                        cache.set(key, (generation, etag, body, response.mimetype), timeout=lifetime)
                    except Exception:  # noqa: BLE001 - a cache outage serves uncached pages
                        current_app.logger.warning("page cache write failed", exc_info=True)
                return _finish(response, etag, public=True)
            return _finish(response, etag, public=False)
        return wrapper
    return decorate


def _response_is_shared(response):
    """Nothing in this answer is the visitor's own: no cookie set, no session value written, no CSRF token."""
    if "Set-Cookie" in response.headers or session.modified:
        return False
    return "csrf_token" not in g


# --- static files ------------------------------------------------------------------------------------------

_fingerprints = {}


def static_fingerprint(app, filename):
    """The first 12 hex digits of the file's SHA-256 (recomputed when the file changes), or None."""
    folder = app.static_folder
    if not folder:
        return None
    path = os.path.join(folder, filename)
    try:
        stat = os.stat(path)
    except (OSError, ValueError):
        return None
    key = (path, stat.st_mtime_ns, stat.st_size)
    found = _fingerprints.get(key)
    if found is None:
        with open(path, "rb") as fh:
            found = hashlib.sha256(fh.read()).hexdigest()[:12]
        if len(_fingerprints) > 4096:
            _fingerprints.clear()
        _fingerprints[key] = found
    return found


def _init_static(app):
    @app.url_defaults
    def _fingerprint_static(endpoint, values):
        if endpoint == "static" and "filename" in values and "v" not in values:
            fingerprint = static_fingerprint(app, values["filename"])
            if fingerprint:
                values["v"] = fingerprint

    @app.after_request
    def _static_lifetime(response):
        if request.endpoint == "static" and response.status_code in (200, 304):
            filename = (request.view_args or {}).get("filename", "")
            wanted = request.args.get("v")
            if wanted and wanted == static_fingerprint(app, filename):
                response.headers["Cache-Control"] = f"public, max-age={STATIC_MAX_AGE}, immutable"
                response.expires = None
            else:
                response.headers["Cache-Control"] = "no-cache"
        return response

    _listen()
