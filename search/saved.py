"""Saved searches: tell their owners when a newly published listing matches.

Never in the request that changed the listing: ``search.outbox.drain(notify_saved=True)`` (``flask search sync``)
calls ``notify_matches`` for the outbox rows its index has applied, which writes one pending
``SavedSearchNotice`` per (search, listing), and then ``deliver_pending``, which delivers each notice on its own
(in-app notification, then e-mail). A failing notice is logged and retried by the next drain, up to
``NOTIFY_MAX_ATTEMPTS``; it never stops another notice, the index, or the outbox position.
"""
import logging

from flask import current_app
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from listings.models import Listing
from marketplace.kernel.errors import ValidationError
from marketplace.kernel.extensions import db
from marketplace.kernel.i18n import N_
from marketplace.kernel.messages import msg
from marketplace.kernel.notify import clean_header, notify, send_mail
from marketplace.kernel.timeutil import utcnow

from .index import query_index
from .models import SavedSearch, SavedSearchNotice

log = logging.getLogger(__name__)
LABEL_CHARS = 60  # of the saved search's words in a notification title (titles hold 200)


def notify_matches(listing_ids, handle):
    """Write a pending notice for each saved search matching one of ``listing_ids`` (published since the search
    was saved, not the owner's own listing). Each (search, listing) pair is noted once, whichever process or host
    drains first. One saved search that cannot be matched is logged and skipped. Returns the notices written.
    """
    from .service import index_query, saved_search_params

    searches = db.session.execute(select(SavedSearch).order_by(SavedSearch.id)).scalars().all()
    if not searches:
        return 0
    listings = {row.id: row for row in db.session.execute(
        select(Listing).where(Listing.id.in_(listing_ids), Listing.status == "published")).scalars()}
    if not listings:
        return 0
    written = 0
    for saved in searches:
        try:
            params = saved_search_params(saved)
            found = query_index(handle, index_query(params, restrict_ids=tuple(listings)), sort="newest",
                                limit=len(listings), facets=False)
        except ValidationError:
            continue  # saved under older rules; nothing sensible to match
        except Exception:  # noqa: BLE001 - one odd saved search must not stop the others
            log.exception("saved search %s could not be matched; skipped", saved.id)
            continue
        for listing_id in found.ids:
            listing = listings[listing_id]
            if listing.seller_id == saved.user_id:
                continue
            if listing.published_at is not None and listing.published_at < saved.created_at:
                continue
            if _already_noted(saved.id, listing_id):
                continue
            try:
                with db.session.begin_nested():
                    db.session.add(SavedSearchNotice(saved_search_id=saved.id, listing_id=listing_id))
            except IntegrityError:
                continue  # another process noted it just now
            written += 1
    db.session.commit()
    return written


def _already_noted(saved_id, listing_id):
    return db.session.scalar(select(SavedSearchNotice.id).where(
        SavedSearchNotice.saved_search_id == saved_id, SavedSearchNotice.listing_id == listing_id)) is not None


def notice_title(saved):
    """The notice's title as a message (``marketplace.kernel.messages``): shown in the reader's language."""
    label = clean_header(saved.q)
    if len(label) > LABEL_CHARS:
        label = label[:LABEL_CHARS] + "…"
    return msg(N_("新挂牌符合您保存的搜索「%(q)s」"), q=label or msg(N_("全部挂牌")))


def pending_notices(limit=500):
    """Ids of notices not yet delivered (in-app or by mail) that have attempts left, oldest first."""
    max_attempts = current_app.config.get("NOTIFY_MAX_ATTEMPTS", 5)
    return db.session.scalars(
        select(SavedSearchNotice.id)
        .where(or_(SavedSearchNotice.notified_at.is_(None), SavedSearchNotice.mailed_at.is_(None)),
               SavedSearchNotice.attempts < max_attempts)
        .order_by(SavedSearchNotice.id).limit(limit)).all()


def deliver_pending(limit=500):
    """Deliver pending notices, each on its own (its own commit); never raises. Returns in-app notifications sent."""
    sent = 0
    for notice_id in pending_notices(limit):
        try:
            sent += _deliver(notice_id)
        except Exception:  # noqa: BLE001 - logged and retried; the next notice goes on
            db.session.rollback()
            log.exception("saved-search notice %s failed; will retry", notice_id)
            _count_attempt(notice_id)
    return sent


def _deliver(notice_id):
    notice = db.session.get(SavedSearchNotice, notice_id)
    saved = db.session.get(SavedSearch, notice.saved_search_id)
    listing = db.session.get(Listing, notice.listing_id)
    now = utcnow()
    if saved is None or listing is None:
        # The payload no longer matches the data (the search or the listing was deleted before delivery):
        # nothing to tell; close the notice so it is not retried.
        log.info("saved-search notice %s skipped: the search or the listing is gone", notice_id)
        notice.notified_at = notice.notified_at or now
        notice.mailed_at = notice.mailed_at or now
        db.session.commit()
        return 0
    sent = 0
    title = notice_title(saved)
    if notice.notified_at is None:
        notify(saved.user_id, "saved_search", title, listing.title, link=f"/listings/{listing.id}")
        notice.notified_at = now
        saved.last_notified_listing_id = listing.id
        db.session.commit()
        sent = 1
    if notice.mailed_at is None:
        if current_app.config.get("SMTP_HOST"):
            try:
                send_mail(saved.user_id, title, f"{listing.title}\n\n/listings/{listing.id}")
            except Exception:  # noqa: BLE001
                db.session.rollback()
                log.warning("mail for saved-search notice %s failed; will retry", notice_id, exc_info=True)
                _count_attempt(notice_id)
                return sent
        notice.mailed_at = utcnow()
        db.session.commit()
    return sent


def _count_attempt(notice_id):
    try:
        notice = db.session.get(SavedSearchNotice, notice_id)
        if notice is not None:
            notice.attempts += 1
            if notice.attempts >= current_app.config.get("NOTIFY_MAX_ATTEMPTS", 5):
                log.error("saved-search notice %s given up after %s attempts", notice_id, notice.attempts)
            db.session.commit()
    except Exception:  # noqa: BLE001
        db.session.rollback()
        log.warning("could not count the attempt of notice %s", notice_id, exc_info=True)
