"""In-app notifications (and e-mail when SMTP is configured). Kernel: used by every domain package."""
import logging
import re
import smtplib
import unicodedata
from email.message import EmailMessage

from flask import current_app, has_app_context
from sqlalchemy import bindparam, event, func, select
from sqlalchemy.orm import Session

from . import jobs
from .extensions import db
from .messages import render, stored
from .models import Notification, User

log = logging.getLogger(__name__)

# Bidirectional embeddings, overrides and isolates: they reorder what a mail client shows.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def is_control_char(ch):
    """Control characters (C0, DEL, C1), line and paragraph separators and bidi controls."""
    return unicodedata.category(ch) in ("Cc", "Zl", "Zp") or ch in _BIDI_CONTROLS


def has_control_chars(text):
    return any(is_control_char(ch) for ch in text or "")


def clean_header(value):
    """A mail header value with every control character (CR and LF above all) turned into a space:
    no text from a user or a listing can add a header or end the header block."""
    text = "".join(" " if is_control_char(ch) else ch for ch in str(value or ""))
    return re.sub(r"\s+", " ", text).strip()


MAIL_KINDS = frozenset({"deal", "offer", "payout_account"})  # also e-mailed by default: money and negotiations


def notify(user, kind, title, body="", link=None, email=None):
    """Queue a notification for ``user`` (a User or id) in the caller's transaction.

    ``title`` and ``body``: a ``marketplace.kernel.messages.Message`` (``msg(N_("…"), **params)``), stored as its key and
    parameters and shown in the reader's language; or plain text (a person's own words), stored and shown as it is.

    ``email``: also send it by e-mail; by default for the kinds in ``MAIL_KINDS`` (deals, offers, payout
    accounts), where a missed notice costs money or a deadline.

    The e-mail (when asked for and SMTP is set) is sent only after the caller's transaction commits
    (``_send_after_commit``), never while it holds a row lock, and not at all when it rolls back; a
    failing mail server is logged and never reaches the caller or undoes the change (the in-app
    notification is the record). Saved-search notices are delivered apart, with retries
    (``search.saved.deliver_pending``).
    """
    if email is None:
        email = kind in MAIL_KINDS
    user_id = user if isinstance(user, int) else user.id
    title_text, title_msg = stored(title)
    body_text, body_msg = stored(body)
    row = Notification(user_id=user_id, kind=kind, title=title_text, body=body_text or "", link=link,
                       title_msg=title_msg, body_msg=body_msg)
    db.session.add(row)
    if email and current_app.config.get("SMTP_HOST"):
        target = db.session.get(User, user_id)
        if target is not None:  # in the recipient's language, whoever's request this is
            locale = target.locale or current_app.config["BABEL_DEFAULT_LOCALE"]
            db.session.info.setdefault(_MAIL_AFTER_COMMIT, []).append(
                (user_id, target.email, render(title_msg, title_text, locale), render(body_msg, body_text, locale)))
    return row


_MAIL_AFTER_COMMIT = "mail_after_commit"


def mail_after_commit(user, subject, body):
    """Queue an e-mail to ``user`` alone, with no in-app notification (a password-reset link belongs in the
    mailbox only): sent like ``notify``'s mail, after the caller's transaction commits and never when it rolls
    back. Returns False when no mail server is configured (nothing is queued)."""
    if not current_app.config.get("SMTP_HOST"):
        return False
    db.session.info.setdefault(_MAIL_AFTER_COMMIT, []).append((user.id, user.email, subject, body))
    return True


def send_mail(user_id, subject, body):
    """Send one e-mail to the user; raises on failure (the caller decides whether to retry).
    Returns False when there is nobody to send to (no such user, or the account was deleted).
    ``subject`` and ``body`` may be messages (``marketplace.kernel.messages``): rendered in the user's language."""
    user = db.session.get(User, user_id)
    if user is None or user.deleted_at is not None:
        return False
    locale = user.locale or current_app.config["BABEL_DEFAULT_LOCALE"]
    _smtp_send(user.email, render(subject, locale=locale), render(body or "", locale=locale))
    return True


def _smtp_send(address, subject, body):
    msg = EmailMessage()
    msg["From"] = clean_header(current_app.config["MAIL_FROM"])
    msg["To"] = clean_header(address)
    msg["Subject"] = clean_header(subject)
    msg.set_content(body or "")
    with smtplib.SMTP(current_app.config["SMTP_HOST"], current_app.config["SMTP_PORT"], timeout=10) as s:
        s.send_message(msg)


@event.listens_for(Session, "after_commit")
def _send_after_commit(session):
    if session.in_nested_transaction():
        return  # a SAVEPOINT was released; the real commit comes later
    queued = session.info.pop(_MAIL_AFTER_COMMIT, None)
    if not queued or not has_app_context():
        return
    if jobs.enabled():
        # Worker mode (REDIS_URL): one retried "mail" job per message, carrying this request's id.
        app = current_app._get_current_object()
        for user_id, _address, subject, body in queued:
            jobs.enqueue_quietly(app, "mail", user_id, subject, body)
        return
    for _user_id, address, subject, body in queued:
        try:
            _smtp_send(address, subject, body)
        except Exception:  # noqa: BLE001 - mail is best effort; the in-app notification is the record
            log.warning("mail to %s failed", address, exc_info=True)


@jobs.job("mail")
def mail_job(user_id, subject, body):
    """One e-mail to a user (worker mode). The user deleted or anonymised since: a no-op."""
    if not current_app.config.get("SMTP_HOST"):
        raise jobs.Stale("SMTP_HOST is not set")
    if not send_mail(user_id, subject, body):
        raise jobs.Stale(f"user {user_id} no longer has an address")
    return True


@event.listens_for(Session, "after_rollback")
def _forget_mail(session):
    session.info.pop(_MAIL_AFTER_COMMIT, None)


def unread_count_for(user):
    """The header's unread count for the signed-in ``user``, read once a request (the header and a page's cache
    key both want it)."""
    from flask import has_request_context, request

    if not has_request_context():
        return unread_count(user.id)
    kept = getattr(request, "_unread_notifications", None)
    if kept is None or kept[0] != user.id:
        kept = request._unread_notifications = (user.id, unread_count(user.id))
    return kept[1]


_UNREAD = []


def remember_unread(user, count):
    """``count`` is ``user``'s unread count, read by another statement this request (the deal page's stamp)."""
    from flask import has_request_context, request

    if has_request_context():
        request._unread_notifications = (user.id, count)


def unread_count(user_id):
    """The header's unread count: one plain ``SELECT count(*)`` (no subquery, as ``Query.count`` wraps one), its
    statement built once (the header reads it on every signed-in page)."""
    if not _UNREAD:
        _UNREAD.append(select(func.count(Notification.id)).where(Notification.user_id == bindparam("user_id"),
                                                                 Notification.read_at.is_(None)))
    return db.session.scalar(_UNREAD[0], {"user_id": user_id})
