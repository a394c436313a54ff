"""Personal data (PIPL, 个人信息保护法): a user's export of their own data, account deletion, retention.

* ``export_user_data(user)``: everything the platform holds that names the user, as JSON (Art. 45: the right to
  obtain a copy): the account, the organisation it belongs to, and every row of every table that refers to the
  user (read from the schema: any column with a foreign key to ``users.id``), secrets left out (password and
  token hashes, session tokens). Bounded: at most ``EXPORT_MAX_ROWS`` rows per table.
* ``delete_account(user)``: Art. 47 deletion, which the law limits where other laws require keeping records
  (Art. 47 para. 2). Refused while the user is party to anything open (a deal not completed, cancelled or
  refunded; a listing on the market or in review; an open offer; an auction they lead; a deposit held or
  being returned), so no counterparty or payout loses its other side. Otherwise the personal fields are
  anonymised (e-mail, name, password, language, sessions), API tokens revoked, notifications and saved
  searches deleted. Kept, because the law requires them (docs/operations.md, "Personal data"): deals, their
  events, contracts and signatures, documents, ledger entries, invoices, payout and refund records and bank
  accounts paid into (电子商务法 Art. 31: transaction records at least 3 years; 会计法 and 会计档案管理办法:
  accounting records 10–30 years; 发票管理办法: invoices), and the operator audit log. They now name
  "已注销用户 #<id>".
* ``purge_expired()``: the retention job: read notifications older than ``NOTIFICATION_RETENTION_DAYS``, API
  tokens revoked more than ``TOKEN_RETENTION_DAYS`` ago, outbox rows past ``OUTBOX_RETENTION_DAYS``.
"""
import secrets
from datetime import date, datetime, timedelta
from decimal import Decimal

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, or_, select, update

from escrow.models import TERMINAL_STATES, Deal
from listings.models import Auction, AuctionDeposit, Listing, Offer
from search.models import SavedSearch, SavedSearchNotice
from search.outbox import prune

from ..kernel import audit, jobs
from ..kernel.errors import ValidationError
from ..kernel.extensions import db
from ..kernel.models import ApiToken, Notification, User
from ..kernel.timeutil import iso, utcnow

EXPORT_MAX_ROWS = 10000
SECRET_COLUMNS = frozenset({"password_hash", "token_hash", "session_token"})
DELETED_NAME = "已注销用户"


def _plain(value):
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (bytes, bytearray)):
        return None
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_plain(v) for v in value]
    return str(value)


def _row(table, row):
    return {c.name: _plain(row._mapping[c]) for c in table.columns
            if c.name not in SECRET_COLUMNS and "secret" not in c.name}


def _user_columns():
    """``[(table, column)]``: every column (other than users' own) with a foreign key to users.id."""
    found = []
    for table in db.metadata.sorted_tables:
        if table.name == "users":
            continue
        for column in table.columns:
            if any(fk.column.table.name == "users" and fk.column.name == "id" for fk in column.foreign_keys):
                found.append((table, column))
    return found


def export_user_data(user):
    """The user's own data as a JSON-ready dict (see the module docstring)."""
    users = User.__table__
    account = _row(users, db.session.execute(select(users).where(users.c.id == user.id)).one())
    data = {"exported_at": iso(utcnow()), "account": account, "organization": None, "records": {}}
    if user.organization_id:
        orgs = db.metadata.tables["organizations"]
        data["organization"] = _row(orgs, db.session.execute(
            select(orgs).where(orgs.c.id == user.organization_id)).one())
    by_table = {}
    for table, column in _user_columns():
        by_table.setdefault(table, []).append(column)
    for table, columns in by_table.items():
        rows = db.session.execute(
            select(table).where(or_(*(c == user.id for c in columns))).order_by(*table.primary_key.columns)
            .limit(EXPORT_MAX_ROWS)).all()
        if rows:
            data["records"][table.name] = [_row(table, row) for row in rows]
    return data


# ---- deletion --------------------------------------------------------------------------------------------
def deletion_blockers(user):
    """Reasons the account cannot be deleted now (empty: it can). Each names what to finish first."""
    reasons = []
    if user.is_operator:
        reasons.append(str(_l("平台运营账号不能自行注销，请联系其他运营人员停用。")))
    if user.deleted_at is not None:
        reasons.append(str(_l("该账号已注销。")))
    open_deals = db.session.scalar(select(db.func.count(Deal.id)).where(
        or_(Deal.buyer_id == user.id, Deal.seller_id == user.id), Deal.state.notin_(TERMINAL_STATES)))
    if open_deals:
        reasons.append(str(_l("您有 %(n)s 笔交易尚未完成（完成、取消或退款后方可注销）。", n=open_deals)))
    live = db.session.scalar(select(db.func.count(Listing.id)).where(
        Listing.seller_id == user.id, Listing.status.in_(("pending_review", "published", "reserved"))))
    if live:
        reasons.append(str(_l("您有 %(n)s 个挂牌在售或待审核，请先撤下。", n=live)))
    offers = db.session.scalar(select(db.func.count(Offer.id)).where(
        Offer.buyer_id == user.id, Offer.status.in_(("open", "countered"))))
    if offers:
        reasons.append(str(_l("您有 %(n)s 个议价尚未结束，请先撤回。", n=offers)))
    leading = db.session.scalar(select(db.func.count(Auction.id)).where(
        Auction.leader_id == user.id, Auction.closed_at.is_(None)))
    if leading:
        reasons.append(str(_l("您在 %(n)s 场进行中的拍卖里领先。", n=leading)))
    deposits = db.session.scalar(select(db.func.count(AuctionDeposit.id)).where(
        AuctionDeposit.bidder_id == user.id, AuctionDeposit.status.in_(("awaiting_payment", "held", "returning"))))
    if deposits:
        reasons.append(str(_l("您有 %(n)s 笔保证金尚未退还或处理完毕。", n=deposits)))
    return reasons


def delete_account(user, actor=None):
    """Anonymise ``user`` (see the module docstring) in the caller's transaction; raises ValidationError with
    the blockers (and changes nothing) when it may not be deleted yet. ``actor``: who asked (None: the user)."""
    reasons = deletion_blockers(user)
    if reasons:
        raise ValidationError(str(_l("现在不能注销账号")), {"account": "；".join(reasons)})
    now = utcnow()
    user.email = f"deleted-{user.id}@deleted.invalid"
    user.name = DELETED_NAME
    user.set_password(secrets.token_urlsafe(32))
    user.locale = None
    user.active = False
    user.deleted_at = now
    user.end_sessions()
    db.session.execute(update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
                       .values(revoked_at=now))
    db.session.execute(delete(Notification).where(Notification.user_id == user.id))
    searches = select(SavedSearch.id).where(SavedSearch.user_id == user.id)
    db.session.execute(delete(SavedSearchNotice).where(SavedSearchNotice.saved_search_id.in_(searches)))
    db.session.execute(delete(SavedSearch).where(SavedSearch.user_id == user.id))
    audit.record(actor if actor is not None else user.id, "account.delete", "user", user.id,
                 after={"deleted_at": now})
    db.session.flush()
    return user


# ---- retention -------------------------------------------------------------------------------------------
def purge_expired(now=None):
    """Delete what is past its retention; returns counts. Commits. Safe to run any number of times."""
    config = current_app.config
    now = now or utcnow()
    notes = db.session.execute(delete(Notification).where(
        Notification.read_at.is_not(None),
        Notification.created_at < now - timedelta(days=config.get("NOTIFICATION_RETENTION_DAYS", 180))))
    tokens = db.session.execute(delete(ApiToken).where(
        ApiToken.revoked_at.is_not(None),
        ApiToken.revoked_at < now - timedelta(days=config.get("TOKEN_RETENTION_DAYS", 90))))
    db.session.commit()
    return {"notifications": notes.rowcount or 0, "api_tokens": tokens.rowcount or 0,
            "outbox_rows": prune(now)}


@jobs.job("retention")
def retention_job():
    return purge_expired()
