"""The notification centre: a user's notifications, unread first in the count, marked read one by one or all."""
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from .errors import NotFound
from .extensions import db
from .models import Notification
from .timeutil import utcnow

KIND_LABELS = {"offer": _l("报价"), "outbid": _l("出价被超越"), "auction_end": _l("拍卖结束"), "deal": _l("交易进展"),
               "saved_search": _l("订阅搜索"), "credit": _l("信用记录"), "kyc": _l("单位核验"),
               "listing": _l("挂牌审核"), "grade": _l("质量分级"), "deposit": _l("竞拍保证金"),
               "wanted": _l("求购"), "wanted_match": _l("求购匹配"), "wanted_answer": _l("求购回应"),
               "dataroom": _l("资料室"), "message": _l("留言")}


def page_for(user, *, unread_only=False, page=1, per_page=20):
    query = db.session.query(Notification).filter(Notification.user_id == user.id)
    if unread_only:
        query = query.filter(Notification.read_at.is_(None))
    return query.order_by(Notification.created_at.desc(), Notification.id.desc()).paginate(
        page=page, per_page=per_page, error_out=False)


def mark_read(user, notification_id, now=None):
    """Mark one of the user's notifications read (idempotent); another user's is NotFound."""
    row = db.session.get(Notification, notification_id)
    if row is None or row.user_id != user.id:
        raise NotFound(_("消息不存在"))
    if row.read_at is None:
        row.read_at = now or utcnow()
    db.session.flush()
    return row


def mark_all_read(user, now=None):
    """Mark every unread notification of the user read; returns how many changed."""
    changed = (db.session.query(Notification)
               .filter(Notification.user_id == user.id, Notification.read_at.is_(None))
               .update({Notification.read_at: now or utcnow()}, synchronize_session=False))
    db.session.flush()
    return changed
