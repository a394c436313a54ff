"""A seller answers a wanted ad with one of its published listings: that opens a message thread between the
buyer and the listing's side (the buyer can then make an offer on the listing, or buy it, as on any listing).

Refused, nothing written: a listing that is not the answering seller's side's (404), not published (409), an ad
that is not open (409), answering one's own ad (403), the same listing twice on one ad (409), an empty or too
long message (422). Only the buyer and the listing's side read and write the thread; others get a 404.
"""
from flask_babel import gettext as _
from sqlalchemy import select

from listings.bidding import is_own_organisation, is_seller_side
from listings.models import Listing
from marketplace.kernel.errors import Conflict, NotFound, PermissionDenied, ValidationError
from marketplace.kernel.extensions import db
from marketplace.kernel.i18n import N_
from marketplace.kernel.messages import msg
from marketplace.kernel.notify import has_control_chars, notify
from marketplace.kernel.timeutil import iso, utcnow

from . import wanted
from .models import DemandMessage, WantedAnswer

MAX_MESSAGE = 1000
MAX_MESSAGES = 200  # per thread


def clean_message(body):
    if not isinstance(body, str) or not body.strip():
        raise ValidationError(_("请填写留言"), {"message": _("必填")})
    body = body.strip()
    if len(body) > MAX_MESSAGE:
        raise ValidationError(_("留言过长"), {"message": _("最多 %(n)s 个字符", n=MAX_MESSAGE)})
    if has_control_chars(body.replace("\n", "").replace("\r", "")):
        raise ValidationError(_("留言含控制字符"), {"message": _("不能包含控制字符")})
    return body


def answer(ad_id, seller, listing_id, message, now=None):
    ad = wanted.visible(ad_id, seller)
    if wanted.is_owner(ad, seller):
        raise PermissionDenied(_("不能回应自己的求购"))
    if not seller.has_role("seller"):
        raise PermissionDenied(_("只有卖方可以用挂牌回应求购"))
    listing = db.session.get(Listing, listing_id) if isinstance(listing_id, int) else None
    if listing is None or not is_seller_side(listing, seller):
        raise NotFound(_("挂牌不存在"), {"listing_id": _("请选择您自己的挂牌")})
    if ad.buyer is not None and is_own_organisation(listing, ad.buyer):
        raise PermissionDenied(_("不能向本机构的求购回应"))
    if listing.status != "published":
        raise Conflict(_("只能用在售的挂牌回应"))
    if listing.kind != ad.kind:
        raise Conflict(_("挂牌类型与求购不符"))
    if not wanted.is_open(ad, now):
        raise Conflict(_("该求购已结束"))
    body = clean_message(message)
    if db.session.scalar(select(WantedAnswer.id).where(WantedAnswer.wanted_id == ad.id,
                                                       WantedAnswer.listing_id == listing.id)) is not None:
        raise Conflict(_("已用该挂牌回应过这条求购"))
    now = now or utcnow()
    row = WantedAnswer(wanted_id=ad.id, listing_id=listing.id, seller_id=seller.id, created_at=now)
    row.messages.append(DemandMessage(author_id=seller.id, body=body, created_at=now))
    db.session.add(row)
    db.session.flush()
    notify(ad.buyer_id, "wanted_answer", msg(N_("卖方用挂牌回应了您的求购「%(t)s」"), t=ad.title[:60]),
           listing.title, link=f"/wanted/answers/{row.id}")
    return row


def is_party(row, user):
    if user is None or not getattr(user, "is_authenticated", True):
        return False
    return user.id == row.wanted.buyer_id or is_seller_side(row.listing, user)


def thread(answer_id, user):
    row = db.session.get(WantedAnswer, answer_id) if isinstance(answer_id, int) else None
    if row is None or not (is_party(row, user) or (user is not None and user.is_operator)):
        raise NotFound(_("对话不存在"))
    return row


def post_message(answer_id, user, body, now=None):
    row = thread(answer_id, user)
    if not is_party(row, user):
        raise PermissionDenied(_("只有双方可以留言"))
    body = clean_message(body)
    if len(row.messages) >= MAX_MESSAGES:
        raise Conflict(_("对话已达 %(n)s 条留言上限", n=MAX_MESSAGES))
    now = now or utcnow()
    message = DemandMessage(answer_id=row.id, author_id=user.id, body=body, created_at=now)
    db.session.add(message)
    other = row.seller_id if user.id == row.wanted.buyer_id else row.wanted.buyer_id
    notify(other, "wanted_answer", msg(N_("求购对话有新留言：%(t)s"), t=row.wanted.title[:60]), body[:200],
           link=f"/wanted/answers/{row.id}")
    db.session.flush()
    return message


def answers_for(ad, user):
    """The threads on ``ad`` that ``user`` may read: all for the buyer and operators, their own side's for a seller."""
    rows = db.session.execute(select(WantedAnswer).where(WantedAnswer.wanted_id == ad.id)
                              .order_by(WantedAnswer.id)).scalars().all()
    if user is None or not getattr(user, "is_authenticated", False):
        return []
    if wanted.is_owner(ad, user) or user.is_operator:
        return rows
    return [row for row in rows if is_seller_side(row.listing, user)]


def answer_json(row):
    return {"id": row.id, "wanted_id": row.wanted_id, "listing_id": row.listing_id, "listing_title": row.listing.title,
            "created_at": iso(row.created_at),
            "messages": [{"id": m.id, "author_id": m.author_id, "body": m.body, "created_at": iso(m.created_at)}
                         for m in row.messages]}
