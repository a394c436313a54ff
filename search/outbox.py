"""Keeping the index true: drain the kernel's outbox into the index after commit.

``listings.outbox`` writes an ``OutboxEvent`` row (increasing id) in the same
transaction as any listing change. Here:

* an ``after_commit`` hook (when ``SEARCH_SYNC_ON_COMMIT``) drains the outbox into this
  host's index right after a transaction that touched listings commits;
* the index folder holds the last applied outbox id (``outbox_position``); a drain
  applies every row after it, re-reading each listing from the database (so applying a
  row twice is harmless), and only then moves the position;
* the writer lock is taken with a timeout; when it cannot be had, or anything fails,
  the rows simply stay and the next drain (any later commit, or ``flask search sync``)
  catches up. Index work never fails the user's request;
* ids can commit out of order on PostgreSQL (a sequence is not transactional), so the
  position only moves over a gap once the row after it is older than
  ``SEARCH_OUTBOX_GAP_SECONDS`` (the missing id was rolled back); rows after a young gap
  are applied now and again later;
* saved searches are matched only by a drain that asks for it (``flask search sync``, run from cron), never by
  the after-commit drain of the request that changed the listing. That drain keeps a second position,
  ``notify_position`` (never ahead of the index's): it matches the rows the index has applied, writes one
  pending notice per match and saves that position, and only then delivers the pending notices, each on its
  own (``search.saved.deliver_pending``). A failure there is logged and retried by the next drain; it never
  holds back the index, the positions or another notice;
* rows older than ``OUTBOX_RETENTION_DAYS`` are pruned (never the newest row, so ids
  keep increasing on SQLite).

Worker mode (``REDIS_URL``, marketplace.kernel.jobs): the after-commit hook enqueues one ``index_drain`` job on this
host's queue instead of draining in the request, and the worker runs that job (a full drain with saved-search
matching, as ``flask search sync``) every ``JOB_INDEX_INTERVAL`` seconds too.
"""
import logging
import os
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from itertools import chain

from flask import current_app, has_app_context
from sqlalchemy import delete, event, func, select
from sqlalchemy.orm import Session, selectinload

from listings.models import Auction, Listing, Right, with_rights
from listings.open_licence import open_listing_ids
from marketplace.kernel import jobs
from marketplace.kernel.extensions import db
from marketplace.kernel.models import OutboxEvent
from marketplace.kernel.pagecache import bump_generation
from marketplace.kernel.timeutil import utcnow

from .analysis import initialise
from .index import IndexBusy, add_to_index, current_handle, is_searchable, remove_from_index

log = logging.getLogger(__name__)

POSITION_FILE = "outbox_position"
NOTIFY_POSITION_FILE = "notify_position"
_state = threading.local()
_last_prune = {}


@dataclass
class DrainReport:
    applied: int = 0  # outbox rows read
    indexed: int = 0  # listings added or replaced
    removed: int = 0  # listings taken out
    position: int = 0  # last applied outbox id afterwards
    notified: int = 0  # saved-search notifications sent


def read_position(handle, name=POSITION_FILE):
    try:
        with open(os.path.join(handle.path, name)) as fh:
            return int(fh.read().strip() or 0)
    except (OSError, ValueError):
        return 0


def write_position(handle, value, name=POSITION_FILE):
    os.makedirs(handle.path, exist_ok=True)
    path = os.path.join(handle.path, name)
    tmp = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp"
    with open(tmp, "w") as fh:
        fh.write(str(int(value)))
    os.replace(tmp, path)


_vary = {"at": 0.0, "value": ""}


def search_page_vary():
    """What the cached search pages are keyed by besides the request (marketplace.kernel.pagecache): the synonym
    files' stamp, looked at most once a second (an operator's edit of those files shows within a second).
    The index itself needs no key: every drain that applies rows and every rebuild bumps the page cache's
    generation once the index has them."""
    now = time.monotonic()
    if now - _vary["at"] > 1.0:
        from .synonyms import _stamp

        _vary["value"], _vary["at"] = repr(_stamp()), now
    return _vary["value"]


def load_listings(ids):
    rows = db.session.execute(
        select(Listing).where(Listing.id.in_(ids))
        .options(with_rights(), selectinload(Listing.auction), selectinload(Listing.organization))
    ).scalars().all()
    return {row.id: row for row in rows}


def _advance(position, rows, now, gap_seconds):
    """The new position: over contiguous ids, and over gaps whose next row is old enough."""
    grace = now - timedelta(seconds=gap_seconds)
    for row_id, _listing_id, created_at in rows:
        if row_id == position + 1 or created_at <= grace:
            position = row_id
        else:
            break
    return position


def drain(handle=None, *, timeout=None, batch=500, notify_saved=True, max_batches=None):
    """Apply outbox rows after this index's position. Raises IndexBusy if the writer lock is not free."""
    handle = handle or current_handle()
    was_draining = getattr(_state, "draining", False)
    _state.draining = True
    try:
        return _drain(handle, timeout, batch, notify_saved, max_batches)
    finally:
        _state.draining = was_draining


def _drain(handle, timeout, batch, notify_saved, max_batches):
    config = current_app.config
    timeout = config["SEARCH_WRITER_TIMEOUT"] if timeout is None else timeout
    gap_seconds = config["SEARCH_OUTBOX_GAP_SECONDS"]
    report = DrainReport(position=read_position(handle))
    batches = 0
    while max_batches is None or batches < max_batches:
        batches += 1
        position = read_position(handle)
        rows = db.session.execute(
            select(OutboxEvent.id, OutboxEvent.listing_id, OutboxEvent.created_at)
            .where(OutboxEvent.id > position).order_by(OutboxEvent.id).limit(batch)
        ).all()
        if not rows:
            break
        listing_ids = sorted({r[1] for r in rows})
        # Only published listings are loaded whole (a bulk import's drafts are not: one id query tells them).
        listings = load_listings(db.session.scalars(
            select(Listing.id).where(Listing.id.in_(listing_ids), Listing.status == "published")).all())
        published = [i for i in listing_ids if is_searchable(listings.get(i))]
        gone = [i for i in listing_ids if i not in listings]
        if published or handle.holds_any(gone):  # else nothing to write: no writer, no new index generation
            writer = handle.writer(timeout)
            try:
                for listing_id in published:
                    add_to_index(writer, listings[listing_id])
                for listing_id in gone:
                    remove_from_index(writer, listing_id)
                writer.commit()
            except BaseException:
                writer.cancel()
                raise
        report.applied += len(rows)
        report.indexed += len(published)
        report.removed += len(listing_ids) - len(published)
        new_position = _advance(position, rows, utcnow(), gap_seconds)
        if new_position > read_position(handle):
            write_position(handle, new_position)
        report.position = new_position
        if new_position < rows[-1][0]:
            break  # a young gap: the rest is applied, the position waits for the gap to close
    if report.applied:
        # This host's cached pages follow the same rows: a change committed through another host (applied by
        # `search follow`) shows here at once even with a per-host cache (marketplace.kernel.pagecache).
        from marketplace.kernel.pagecache import bump_generation

        bump_generation()
    if notify_saved:
        report.notified += notify_saved_searches(handle, batch)
    _maybe_prune()
    return report


def notify_saved_searches(handle=None, batch=500):
    """Match the outbox rows this index has applied since ``notify_position`` against saved searches (pending
    notices, then the position), then deliver pending notices one by one. Never raises; returns notifications
    sent. When matching fails the position stays and the next drain matches those rows again (notices dedupe)."""
    from demand import matching as demand_matching

    from . import saved

    handle = handle or current_handle()
    try:
        while True:
            start, end = read_position(handle, NOTIFY_POSITION_FILE), read_position(handle)
            if start >= end:
                break
            rows = db.session.execute(
                select(OutboxEvent.id, OutboxEvent.listing_id)
                .where(OutboxEvent.id > start, OutboxEvent.id <= end).order_by(OutboxEvent.id).limit(batch)
            ).all()
            if rows:
                saved.notify_matches(sorted({r[1] for r in rows}), handle)
                demand_matching.match_changed_listings(sorted({r[1] for r in rows}), handle)
            write_position(handle, rows[-1][0] if rows else end, NOTIFY_POSITION_FILE)
    except Exception:  # noqa: BLE001 - never the index's problem; retried by the next drain
        db.session.rollback()
        log.exception("matching saved searches failed; the rows are matched again by the next drain")
    demand_matching.run((), handle)  # wanted ads published since the last drain (never raises)
    return saved.deliver_pending()


def pending_count(handle=None):
    handle = handle or current_handle()
    return db.session.scalar(select(func.count(OutboxEvent.id)).where(OutboxEvent.id > read_position(handle)))


def prune(now=None, days=None):
    """Delete outbox rows older than the retention period (the newest row always stays)."""
    now = now or utcnow()
    days = current_app.config.get("OUTBOX_RETENTION_DAYS", 7) if days is None else days
    newest = db.session.scalar(select(func.max(OutboxEvent.id)))
    if newest is None:
        return 0
    result = db.session.execute(
        delete(OutboxEvent).where(OutboxEvent.created_at < now - timedelta(days=days), OutboxEvent.id < newest)
    )
    db.session.commit()
    return result.rowcount or 0


def _maybe_prune():
    """Prune at most once an hour per process (pruning is housekeeping, not part of a request's work)."""
    key = current_app.config.get("SEARCH_INDEX_PATH")
    if time.monotonic() - _last_prune.get(key, -1e9) < 3600:
        return
    _last_prune[key] = time.monotonic()
    try:
        prune()
    except Exception:  # noqa: BLE001
        db.session.rollback()
        log.warning("outbox pruning failed", exc_info=True)


# --- the after-commit hook -------------------------------------------------------

_WATCHED = (Listing, Right, Auction, OutboxEvent)


@event.listens_for(Session, "after_flush")
def _note_listing_changes(session, flush_context):
    if any(isinstance(obj, _WATCHED) for obj in chain(session.new, session.dirty, session.deleted)):
        session.info["search_outbox_pending"] = True


@event.listens_for(Session, "after_rollback")
def _forget(session):
    session.info.pop("search_outbox_pending", None)


@event.listens_for(Session, "after_commit")
def _drain_after_commit(session):
    if session.in_nested_transaction():
        return  # a SAVEPOINT was released (SQLAlchemy calls this hook for those too); the real commit comes later
    if not session.info.pop("search_outbox_pending", False):
        return
    if not has_app_context() or getattr(_state, "draining", False):
        return
    app = current_app._get_current_object()
    if not app.config["SEARCH_SYNC_ON_COMMIT"]:
        return
    if jobs.enabled(app):
        jobs.request_index_drain(app)  # worker mode: this host's worker drains (one pending job at a time)
        return
    sync_quietly(app)


def sync_quietly(app):
    """Drain in a fresh app context (its own database session); never raises."""
    _state.draining = True
    try:
        with app.app_context():
            try:
                # Bounded: a request applies at most a few batches; `search sync` or the next commit does the rest.
                # Saved searches are matched by `search sync`, outside any user's request.
                drain(max_batches=4, notify_saved=False)
            except IndexBusy:
                log.info("search index busy; outbox rows left for the next drain")
                db.session.rollback()
            except Exception:  # noqa: BLE001 - the index must never fail the user's request
                log.exception("search index update failed; outbox rows left for retry")
                db.session.rollback()
    finally:
        _state.draining = False


# --- bulk loading ----------------------------------------------------------------

REBUILD_THRESHOLD = 2000  # outbox rows waiting: above this, one rebuild is cheaper than draining them


@contextmanager
def deferred():
    """Bulk loading (the demo catalogue): commits inside do not drain; on leaving, the waiting outbox rows
    are applied in one go: a rebuild (``reindex``) when more than REBUILD_THRESHOLD rows wait, else a drain.
    Never raises for the index (as the after-commit drain); ``flask search sync`` catches up on failure."""
    was = getattr(_state, "draining", False)
    _state.draining = True
    try:
        yield
    finally:
        _state.draining = was
    if not was and has_app_context():
        catch_up()


def catch_up():
    """Apply every waiting outbox row now, in batches, or by one rebuild when many wait. Returns the count."""
    try:
        waiting = pending_count()
        if waiting > REBUILD_THRESHOLD:
            return reindex()
        return drain(notify_saved=False).indexed
    except IndexBusy:
        log.info("search index busy; outbox rows left for the next drain")
    except Exception:  # noqa: BLE001 - loading must not fail because of the index
        log.exception("search index update failed; outbox rows left for retry")
    db.session.rollback()
    return 0


# --- rebuilding ----------------------------------------------------------------

def published_count():
    return db.session.scalar(select(func.count(Listing.id)).where(Listing.status == "published"))


def iter_published(chunk=500):
    """Every published listing, in id order, loaded a chunk at a time with what its document needs."""
    last = 0
    while True:
        rows = db.session.execute(
            select(Listing).where(Listing.status == "published", Listing.id > last).order_by(Listing.id).limit(chunk)
            .options(with_rights(), selectinload(Listing.auction),
                     selectinload(Listing.organization))
        ).scalars().all()
        if not rows:
            return
        yield from rows
        last = rows[-1].id  # the identity map holds rows weakly: finished chunks are freed


def reindex(handle=None, progress=None, timeout=60.0):
    """Rebuild this host's index from the database (one commit replaces everything). Returns the count.

    The position is taken *before* reading listings: changes committed meanwhile are
    applied again by the next drain (harmless), never skipped.
    """
    from .index import listing_document

    handle = handle or current_handle()
    position = db.session.scalar(select(func.max(OutboxEvent.id))) or 0
    open_ids = open_listing_ids()  # one query, not one a listing (a 1M reindex asked it 800,000 times)
    count = handle.rebuild((listing_document(listing, open_ids) for listing in iter_published()), timeout=timeout,
                           progress=progress)
    write_position(handle, position)
    bump_generation()  # the cached search pages were rendered from the old index
    return count


# ---- background jobs (marketplace.kernel.jobs) ----------------------------------------------------------------
jobs.on_worker_start(initialise)  # jieba's dictionary once, before the work horses fork (else ~1 s in every job)


@jobs.job("index_drain")
def index_drain_job():
    """This host's index catches up with the outbox, then saved searches are matched and their notices
    delivered (what ``flask search sync`` does), and old outbox rows pruned (hourly)."""
    jobs.index_drain_started()
    try:
        report = drain(timeout=current_app.config.get("SEARCH_WRITER_TIMEOUT", 2.0) * 5)
    except IndexBusy:
        # Another drain of this host holds the writer: it applies the same rows. Not an error.
        raise jobs.Stale("index writer busy; the other drain applies these rows") from None
    return {"applied": report.applied, "indexed": report.indexed, "removed": report.removed,
            "notified": report.notified, "position": report.position}
