"""Messages: the rules, once (the pages in ``views.py`` and the API in ``api.py`` call these).

- **Listing threads.** A signed-in buyer (not of the listing's seller side) writes to the seller about a listing
  that is on the market (published or reserved): one thread per listing and buyer. The other party is the listing's
  seller side (its organisation's sellers, or the natural person who lists). Contact details typed into a listing
  thread (mobile and fixed-line numbers, e-mail addresses, WeChat and QQ ids) are shown masked until a deal exists
  between the buyer and the listing (``reveals_contacts``); the platform's own pages show no contact details before.
- **Deal threads.** The buyer and the seller of a deal, one thread per deal, in any state of the deal.
- **Operators** read a deal's thread once the deal has been disputed, and a listing thread once a party of a deal
  in dispute on that listing named it (``disclose``). They never write. Each reading is in the audit log.
- **Bounds.** A message is 1 to ``MAX_MESSAGE`` characters of plain text without control characters (new lines
  allowed); a thread holds at most ``MAX_MESSAGES``; sending is rate-limited per user (``RATELIMIT_MESSAGE``).
  A refusal writes nothing.
- **Unread.** Each side keeps the last message it read; a new message notifies the other side through
  ``marketplace.kernel.notify`` (one unread notice per thread, so the header's count does not run away), and reading the
  thread marks that notice read.
"""
import re

from flask_babel import gettext as _
from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from escrow.deals import roles_of
from escrow.models import Deal
from listings.lifecycle import can_view, seller_side
from listings.models import Listing
from marketplace.kernel import audit
from marketplace.kernel.credit import ensure_can
from marketplace.kernel.errors import Conflict, NotFound, PermissionDenied, ValidationError
from marketplace.kernel.extensions import db
from marketplace.kernel.i18n import N_
from marketplace.kernel.messages import msg, stored
from marketplace.kernel.models import Notification
from marketplace.kernel.notify import is_control_char, notify
from marketplace.kernel.timeutil import iso, utcnow

from .models import Message, MessageThread

MAX_MESSAGE = 2000
MAX_MESSAGES = 500  # per thread
OPEN_STATUSES = {"published", "reserved"}  # a buyer may start a thread about a listing on the market
INBOX_LIMIT = 200


# --- input ---------------------------------------------------------------------------------------------

def clean_body(body):
    """The message as stored: trimmed plain text; refused (422 naming ``message``) when empty, too long or
    holding control characters other than new lines and tabs."""
    if not isinstance(body, str) or not body.strip():
        raise ValidationError(_("请填写留言"), {"message": _("必填")})
    body = body.replace("\r\n", "\n").strip()
    if len(body) > MAX_MESSAGE:
        raise ValidationError(_("留言过长"), {"message": _("最多 %(n)s 个字符", n=MAX_MESSAGE)})
    if any(is_control_char(ch) for ch in body if ch not in "\n\t"):
        raise ValidationError(_("留言含控制字符"), {"message": _("不能包含控制字符")})
    return body


# --- contact details -------------------------------------------------------------------------------------

_CONTACT = re.compile(
    r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"  # e-mail
    r"|(?<![0-9])(?:\+?86[ -]?)?1[3-9][0-9](?:[ -]?[0-9]){8}(?![0-9])"  # mainland mobile
    r"|(?<![0-9.])0[1-9][0-9]{1,2}[ -]?[0-9]{7,8}(?![0-9])"  # fixed line with its area code
    r"|(?:微信|微信号|vx|VX|wx|WX|weixin|WeChat|wechat|QQ|qq|Q号)\s*[:：]?\s*[A-Za-z0-9_-]{5,20}")
MASK = "［联系方式成交后可见］"


def mask_contacts(text):
    return _CONTACT.sub(MASK, text)


def reveals_contacts(thread):
    """Contact details show in a thread once the two parties have a deal: always in a deal's thread, and in a
    listing thread once the buyer has a deal (in any state) on the listing."""
    if thread.kind == "deal":
        return True
    return db.session.scalar(select(Deal.id).where(Deal.listing_id == thread.listing_id,
                                                   Deal.buyer_id == thread.buyer_id).limit(1)) is not None


# --- who is who -------------------------------------------------------------------------------------------

def side_of(thread, user):
    """``"buyer"``, ``"seller"`` or None: the side ``user`` takes in the thread."""
    if user is None or not getattr(user, "is_authenticated", True):
        return None
    if user.id == thread.buyer_id:
        return "buyer"
    if thread.seller_org_id is None:
        return "seller" if user.id == thread.seller_id else None
    if user.organization_id == thread.seller_org_id and user.has_role("seller"):
        return "seller"
    return None


def operator_may_read(thread):
    if thread.kind == "deal":
        return thread.deal is not None and (thread.deal.state == "disputed" or thread.deal.dispute_reason is not None)
    return thread.disclosed_deal_id is not None


def thread_for(thread_id, user, *, record_reading=True):
    """The thread if ``user`` may read it (a party; an operator when a dispute names it); 404 otherwise."""
    thread = db.session.get(MessageThread, thread_id) if isinstance(thread_id, int) else None
    if thread is None or user is None or not getattr(user, "is_authenticated", True):
        raise NotFound(_("对话不存在"))
    if side_of(thread, user) is not None:
        return thread
    if user.is_operator and operator_may_read(thread):
        if record_reading:
            audit.record(user, "thread.read", "message_thread", thread.id,
                         after={"deal_id": thread.deal_id or thread.disclosed_deal_id})
        return thread
    raise NotFound(_("对话不存在"))


def _listing_key(listing_id, buyer_id):
    return f"listing:{listing_id}:{buyer_id}"


def _deal_key(deal_id):
    return f"deal:{deal_id}"


def _by_key(key):
    return db.session.scalar(select(MessageThread).where(MessageThread.key == key))


def listing_thread(listing_id, user):
    """The buyer's thread on the listing, or None before the first message (the listing must be visible)."""
    listing = db.session.get(Listing, listing_id) if isinstance(listing_id, int) else None
    if listing is None or not can_view(user, listing):
        raise NotFound(_("挂牌不存在"))
    return listing, _by_key(_listing_key(listing.id, user.id))


def deal_of(deal_id, user):
    """The deal if ``user`` is its buyer or seller (an operator: the deal exists, but writing is refused: 403)."""
    deal = db.session.get(Deal, deal_id) if isinstance(deal_id, int) else None
    roles = roles_of(deal, user) if deal is not None and user is not None else set()
    if not roles:
        raise NotFound(_("交易不存在"))
    return deal, roles


def deal_thread(deal_id, user):
    deal, roles = deal_of(deal_id, user)
    if not roles & {"buyer", "seller"}:
        thread = _by_key(_deal_key(deal.id))
        if thread is None or not operator_may_read(thread):
            raise NotFound(_("对话不存在"))
        return deal, thread_for(thread.id, user)
    return deal, _by_key(_deal_key(deal.id))


# --- writing ------------------------------------------------------------------------------------------------

def write_about_listing(listing_id, user, body, now=None):
    """A buyer writes to the listing's seller side (starting the thread on the first message)."""
    listing = db.session.get(Listing, listing_id) if isinstance(listing_id, int) else None
    if listing is None or not can_view(user, listing):
        raise NotFound(_("挂牌不存在"))
    if seller_side(user, listing):
        raise PermissionDenied(_("不能给自己的挂牌留言"))
    if not user.has_role("buyer"):
        raise PermissionDenied(_("只有买家账户可以向卖方咨询"))
    ensure_can(user, "offer")
    thread = _by_key(_listing_key(listing.id, user.id))
    if thread is None:
        if listing.status not in OPEN_STATUSES:
            raise Conflict(_("挂牌已不在售，不能再发起咨询"), status=listing.status)
        body = clean_body(body)
        thread = _create(MessageThread(key=_listing_key(listing.id, user.id), kind="listing", listing_id=listing.id,
                                       buyer_id=user.id, seller_id=listing.seller_id,
                                       seller_org_id=listing.organization_id, created_at=now or utcnow()))
    return _post(thread, user, "buyer", body, now)


def write_about_deal(deal_id, user, body, now=None):
    """The buyer or the seller of a deal writes in the deal's thread (starting it on the first message)."""
    deal, roles = deal_of(deal_id, user)
    side = "buyer" if "buyer" in roles else "seller" if "seller" in roles else None
    if side is None:
        raise PermissionDenied(_("只有交易双方可以留言"))
    thread = _by_key(_deal_key(deal.id))
    if thread is None:
        body = clean_body(body)
        thread = _create(MessageThread(key=_deal_key(deal.id), kind="deal", listing_id=deal.listing_id,
                                       deal_id=deal.id, buyer_id=deal.buyer_id, seller_id=deal.seller_id,
                                       seller_org_id=None, created_at=now or utcnow()))
    return _post(thread, user, side, body, now)


def _create(thread):
    """Insert a new thread; when a concurrent request inserted the same one first (its unique ``key``), use that."""
    try:
        with db.session.begin_nested():
            db.session.add(thread)
            db.session.flush()
        return thread
    except IntegrityError:
        existing = _by_key(thread.key)
        if existing is None:
            raise
        return existing


def reply(thread_id, user, body, now=None):
    """A party writes in a thread it reads (operators read, never write: 403)."""
    thread = thread_for(thread_id, user, record_reading=False)
    side = side_of(thread, user)
    if side is None:
        raise PermissionDenied(_("只有对话双方可以留言"))
    if thread.kind == "listing" and side == "buyer":
        ensure_can(user, "offer")
    return _post(thread, user, side, body, now)


def _post(thread, user, side, body, now):
    body = clean_body(body)
    if thread.message_count >= MAX_MESSAGES:
        raise Conflict(_("对话已达 %(n)s 条留言上限", n=MAX_MESSAGES))
    now = now or utcnow()
    message = Message(thread_id=thread.id, author_id=user.id, body=body, created_at=now)
    db.session.add(message)
    db.session.flush()
    thread.message_count = (thread.message_count or 0) + 1
    thread.last_message_at = now
    if side == "buyer":
        thread.buyer_read_id = message.id
    else:
        thread.seller_read_id = message.id
    _tell(thread, thread.seller_id if side == "buyer" else thread.buyer_id, user, body, now)
    db.session.flush()
    return message


def _tell(thread, recipient_id, author, body, now):
    """One unread notice per thread and reader: a later message refreshes it instead of adding another."""
    link = f"/messages/{thread.id}"
    subject = thread.listing.title[:80]
    title = msg(N_("新留言：%(t)s"), t=subject)  # shown in the reader's language (marketplace.kernel.messages)
    preview = body[:200] if reveals_contacts(thread) else mask_contacts(body[:200])
    row = db.session.scalar(select(Notification).where(Notification.user_id == recipient_id,
                                                       Notification.kind == "message", Notification.link == link,
                                                       Notification.read_at.is_(None)))
    if row is not None:
        (row.title, row.title_msg), row.body, row.created_at = stored(title), preview, now
        return row
    return notify(recipient_id, "message", title, preview, link=link)


def mark_read(thread, user, now=None):
    """The reader's side has read everything in the thread; its notices for the thread are read."""
    side = side_of(thread, user)
    if side is None:
        return
    last = db.session.scalar(select(func.max(Message.id)).where(Message.thread_id == thread.id)) or 0
    if side == "buyer" and thread.buyer_read_id != last:
        thread.buyer_read_id = last
    elif side == "seller" and thread.seller_read_id != last:
        thread.seller_read_id = last
    (db.session.query(Notification)
     .filter(Notification.user_id == user.id, Notification.kind == "message",
             Notification.link == f"/messages/{thread.id}", Notification.read_at.is_(None))
     .update({Notification.read_at: now or utcnow()}, synchronize_session=False))
    db.session.flush()


def disclose(thread_id, user, now=None):
    """A party names a listing thread in a dispute of a deal on that listing between the same buyer and seller side:
    operators may then read it. Refused (409) without such a disputed deal; a deal's own thread needs no naming."""
    thread = thread_for(thread_id, user, record_reading=False)
    if side_of(thread, user) is None:
        raise PermissionDenied(_("只有对话双方可以在争议中出示对话"))
    if thread.kind != "listing":
        raise Conflict(_("交易对话在争议中运营人员已可查看"))
    deal = db.session.scalar(select(Deal).where(Deal.listing_id == thread.listing_id, Deal.buyer_id == thread.buyer_id,
                                                Deal.state == "disputed").order_by(Deal.id.desc()).limit(1))
    if deal is None:
        raise Conflict(_("只有该挂牌上的交易处于争议中时，才能把咨询对话出示给运营人员"))
    if thread.disclosed_deal_id != deal.id:
        thread.disclosed_deal_id = deal.id
        thread.disclosed_at = now or utcnow()
        audit.record(user, "thread.disclose", "message_thread", thread.id, after={"deal_id": deal.id})
    db.session.flush()
    return thread


def disputed_deal_for(thread):
    """The disputed deal a party could name this listing thread in, or None."""
    if thread.kind != "listing":
        return None
    return db.session.scalar(select(Deal.id).where(Deal.listing_id == thread.listing_id,
                                                   Deal.buyer_id == thread.buyer_id, Deal.state == "disputed"))


# --- the inbox ------------------------------------------------------------------------------------------------

def _party_clause(user):
    clauses = [MessageThread.buyer_id == user.id,
               and_(MessageThread.seller_org_id.is_(None), MessageThread.seller_id == user.id)]
    if user.organization_id is not None and user.has_role("seller"):
        clauses.append(MessageThread.seller_org_id == user.organization_id)
    return or_(*clauses)


def _unread_expr(user):
    """How many messages by the other side the user's side has not read: one grouped query for the whole inbox."""
    read_id = case((MessageThread.buyer_id == user.id, MessageThread.buyer_read_id),
                   else_=MessageThread.seller_read_id)
    return (select(Message.thread_id, func.count(Message.id))
            .join(MessageThread, MessageThread.id == Message.thread_id)
            .where(_party_clause(user), Message.author_id != user.id, Message.id > read_id)
            .group_by(Message.thread_id))


def inbox(user, limit=INBOX_LIMIT):
    """The user's threads, the latest first, each with its unread count: ``[(thread, unread)]``; two queries."""
    threads = db.session.scalars(select(MessageThread).where(_party_clause(user))
                                 .options(selectinload(MessageThread.listing).selectinload(Listing.organization),
                                          selectinload(MessageThread.listing).selectinload(Listing.seller),
                                          selectinload(MessageThread.buyer))
                                 .order_by(MessageThread.last_message_at.desc(), MessageThread.id.desc())
                                 .limit(limit)).all()
    unread = dict(db.session.execute(_unread_expr(user)).all())
    return [(t, unread.get(t.id, 0)) for t in threads]


def unread_total(user):
    return sum(count for _id, count in db.session.execute(_unread_expr(user)).all())


# --- what the reader sees -------------------------------------------------------------------------------------

def shown_body(message, reveal):
    return message.body if reveal else mask_contacts(message.body)


def counterpart_label(thread, user):
    """Who the reader talks to: the seller side's name for the buyer, 买家***n for the seller (no contact details)."""
    if side_of(thread, user) == "buyer":
        listing = thread.listing
        return listing.organization.name if listing.organization is not None else listing.seller.name
    if thread.kind == "deal":
        return thread.buyer.name
    return thread.buyer.masked_name


def author_label(message, thread, reveal):
    if message.author_id == thread.buyer_id:
        return thread.buyer.name if thread.kind == "deal" or reveal else thread.buyer.masked_name
    listing = thread.listing
    return listing.organization.name if listing.organization is not None else listing.seller.name


def contacts(thread, user):
    """The other party's contact details, shown only once a deal exists: name, organisation, e-mail."""
    if not reveals_contacts(thread):
        return None
    other = thread.seller if side_of(thread, user) == "buyer" else thread.buyer
    return {"name": other.name, "organization": other.organization.name if other.organization else None,
            "email": other.email}


def message_json(message, thread, reveal):
    return {"id": message.id, "author": author_label(message, thread, reveal), "mine": None,
            "body": shown_body(message, reveal), "created_at": iso(message.created_at)}


def thread_json(thread, user, unread=None, with_messages=False):
    reveal = reveals_contacts(thread) if with_messages else None
    data = {"id": thread.id, "kind": thread.kind, "listing_id": thread.listing_id, "deal_id": thread.deal_id,
            "listing_title": thread.listing.title, "with": counterpart_label(thread, user),
            "side": side_of(thread, user), "message_count": thread.message_count,
            "last_message_at": iso(thread.last_message_at),
            "disclosed_deal_id": thread.disclosed_deal_id}
    if unread is not None:
        data["unread"] = unread
    if with_messages:
        data["contacts_visible"] = reveal
        data["contacts"] = contacts(thread, user) if side_of(thread, user) else None
        data["messages"] = []
        for m in thread.messages:
            item = message_json(m, thread, reveal)
            item["mine"] = m.author_id == user.id
            data["messages"].append(item)
    return data
