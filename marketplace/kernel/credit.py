"""Credit (失信惩戒) rules every domain package applies before letting someone act.

Levels: good, warned, restricted, blacklisted (the worse of the user's and the
organisation's). Restricted: no new listings, bids or purchases (buy-now, an accepted
offer). Blacklisted: cannot list, bid, offer or buy, and cannot be bought from
(``ensure_seller_can``). Open deals continue under operator watch.
The operator console records the levels (see the operator issue); the system records
one finding itself: a buyer's repeated unpaid reservations (``record_system_finding``,
called by ``escrow.strikes``).
"""
from flask_babel import gettext as _

from . import audit, labels
from .credit_models import CreditRecord
from .errors import Conflict, NotFound, PermissionDenied, ValidationError
from .extensions import db
from .i18n import N_
from .messages import label, msg
from .models import CREDIT_LEVELS, Organization, User
from .notify import notify
from .numbers import MAX_ID, parse_int
from .timeutil import utcnow
from .uploads import save_upload, upload_path

BLOCKED = {
    # "buy" joined "bid" with issue 14: a purchase commits to pay just as a bid does, and a
    # buyer restricted for leaving reservations unpaid must not reserve again.
    "restricted": {"list", "bid", "buy"},
    "blacklisted": {"list", "bid", "offer", "buy", "verify", "sell"},
}
# "sell": answering offers on one's listings (counter, accept, decline) and being bought from.
# "verify": asking for (or being given) the verified badge; a blacklisted party cannot carry a trust mark.
ACTION_LABELS = {"list": N_("发布挂牌"), "bid": N_("出价竞拍"), "offer": N_("报价"), "buy": N_("购买"), "verify": N_("申请单位核验"),
                 "sell": N_("出售或答复报价")}


def ensure_can(user, action):
    """Raise PermissionDenied when the user's credit level forbids ``action`` (list, bid, offer, buy)."""
    level = user.effective_credit_level
    if action in BLOCKED.get(level, ()):
        label = labels.CREDIT_LEVEL[level]
        raise PermissionDenied(_("账户信用等级为“%(level)s”，不能%(action)s。如有异议请在信用记录页提交申诉。",
                                 level=_(label), action=_(ACTION_LABELS[action])),
                               credit_level=level)


def seller_may_sell(listing):
    """False when the listing's seller, or the organisation it is listed for, is blacklisted (no one
    buys from them: buy-now, an accepted offer, a won auction)."""
    seller = db.session.get(User, listing.seller_id)
    levels = [seller.effective_credit_level if seller is not None else "good"]
    if listing.organization_id:
        org = db.session.get(Organization, listing.organization_id)
        levels.append(org.credit_level if org is not None else "good")
    return not any("sell" in BLOCKED.get(level, ()) for level in levels)


def ensure_seller_may_sell(listing):
    """409 when nobody may buy ``listing`` because its seller's side is blacklisted (the buyer is told
    only that the seller cannot trade now, not the seller's credit details)."""
    if not seller_may_sell(listing):
        raise Conflict(_("该挂牌的卖方当前不能交易"), seller_blocked=True)


# --- Credit records (operators record; the affected party sees and appeals) ------------------

VIOLATION_LABELS = {
    "infringement": N_("侵权"),
    "counterfeiting": N_("假冒"),
    "fraud": N_("欺诈"),
    "non_performance": N_("不履行交易"),
    "restored": N_("信用修复"),
}
LEVEL_LABELS = labels.CREDIT_LEVEL
APPEAL_LABELS = {"open": N_("申诉处理中"), "upheld": N_("申诉未获支持"), "revoked": N_("申诉成立，记录已撤销")}
MAX_TEXT = 4000


def _members(subject):
    """The users who hear about a record: the user, or every member of the organisation."""
    if isinstance(subject, Organization):
        return list(subject.members)
    return [subject]


def _effective_level(subject):
    """The level of the subject's latest record not revoked on appeal; ``good`` without one."""
    column = CreditRecord.organization_id if isinstance(subject, Organization) else CreditRecord.user_id
    latest = (db.session.query(CreditRecord)
              .filter(column == subject.id, db.or_(CreditRecord.appeal_status.is_(None),
                                                   CreditRecord.appeal_status != "revoked"))
              .order_by(CreditRecord.created_at.desc(), CreditRecord.id.desc()).first())
    return latest.level if latest else "good"


def record_violation(operator, subject, violation, level, description, evidence=None, deal_id=None, now=None):
    """Record a finding against ``subject`` (an Organization or a User) and set its credit level.

    ``evidence`` is an uploaded file (werkzeug FileStorage) or None. Writes the audit
    row and notifies the affected party, in the caller's transaction.
    """
    if operator is None or not operator.is_operator:
        raise PermissionDenied(_("只有运营人员可以记录信用信息"))
    if not isinstance(subject, (Organization, User)):
        raise ValidationError(_("信用记录的对象应为单位或用户"))
    fields = {}
    if violation not in VIOLATION_LABELS:
        fields["violation"] = _("应为：%(options)s", options="、".join(_(v) for v in VIOLATION_LABELS.values()))
    if level not in CREDIT_LEVELS:
        fields["level"] = _("应为：%(options)s", options="、".join(_(v) for v in LEVEL_LABELS.values()))
    elif violation == "restored" and level != "good":
        fields["level"] = _("信用修复只能恢复为“良好”")
    elif violation in VIOLATION_LABELS and violation != "restored" and level == "good":
        fields["level"] = _("违规记录应设为警示、受限或黑名单")
    description = (description or "").strip()
    if not description:
        fields["description"] = _("请写明事实与依据")
    elif len(description) > MAX_TEXT:
        fields["description"] = _("最多 %(n)s 个字符", n=MAX_TEXT)
    if deal_id not in (None, ""):
        try:
            deal_id = parse_int(deal_id, minimum=1, maximum=MAX_ID)
        except (TypeError, ValueError):  # NumberError is a ValueError
            fields["deal_id"] = _("应为交易编号（正整数）")
    else:
        deal_id = None
    if isinstance(subject, User) and subject.is_operator:
        fields["subject"] = _("不能对运营人员记录信用信息")
    if fields:
        raise ValidationError(_("信用记录有误，请检查标注的字段"), fields)
    stored = original = None
    if evidence is not None and getattr(evidence, "filename", None):
        stored, _kind, _size, original = save_upload(evidence, field="evidence", area="credit")
    now = now or utcnow()
    before = subject.credit_level
    rec = CreditRecord(violation=violation, level=level, previous_level=before, description=description,
                       deal_id=deal_id, evidence=stored, evidence_name=original, operator_id=operator.id,
                       created_at=now)
    if isinstance(subject, Organization):
        rec.organization_id = subject.id
    else:
        rec.user_id = subject.id
    db.session.add(rec)
    db.session.flush()
    subject.credit_level = level
    kind = "organization" if isinstance(subject, Organization) else "user"
    audit.record(operator, "credit.record", kind, subject.id,
                 {"credit_level": before},
                 {"credit_level": level, "record_id": rec.id, "violation": violation, "evidence": bool(stored)})
    for member in _members(subject):
        notify(member, "credit", msg(N_("信用记录：%(violation)s，信用等级“%(level)s”"), violation=label(VIOLATION_LABELS[violation]), level=label(LEVEL_LABELS[level])),
               description[:300], link="/account/credit", email=True)
    db.session.flush()
    return rec


def record_system_finding(subject, violation, level, description, deal_id=None, now=None):
    """The system records a finding against the user ``subject`` (no operator: ``operator_id`` is None)
    and sets its level, never lowering it: a record whose level is not worse than the user's own
    is not written (returns None). Audited (actor: the system) and the user is told, like an
    operator's record; it is appealed the same way."""
    if not isinstance(subject, User) or subject.is_operator:
        return None
    if CREDIT_LEVELS.index(level) <= CREDIT_LEVELS.index(subject.credit_level or "good"):
        return None
    now = now or utcnow()
    before = subject.credit_level
    rec = CreditRecord(user_id=subject.id, violation=violation, level=level, previous_level=before,
                       description=description, deal_id=deal_id, operator_id=None, created_at=now)
    db.session.add(rec)
    db.session.flush()
    subject.credit_level = level
    audit.record(None, "credit.record", "user", subject.id, {"credit_level": before},
                 {"credit_level": level, "record_id": rec.id, "violation": violation, "system": True})
    notify(subject, "credit", msg(N_("信用记录：%(violation)s，信用等级“%(level)s”"), violation=label(VIOLATION_LABELS[violation]), level=label(LEVEL_LABELS[level])),
           description[:300], link="/account/credit", email=True)
    db.session.flush()
    return rec


def records_for(user):
    """Every credit record that concerns ``user``: their own and their organisation's, newest first."""
    clauses = [CreditRecord.user_id == user.id]
    if user.organization_id:
        clauses.append(CreditRecord.organization_id == user.organization_id)
    return (db.session.query(CreditRecord).filter(db.or_(*clauses))
            .order_by(CreditRecord.created_at.desc(), CreditRecord.id.desc()).all())


def can_see_record(user, rec):
    """Operators, the user concerned, or members of the organisation concerned."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if user.is_operator:
        return True
    if rec.user_id is not None:
        return rec.user_id == user.id
    return user.organization_id is not None and user.organization_id == rec.organization_id


def get_visible_record(user, record_id):
    """The record, or NotFound when it does not exist or is not the caller's to see."""
    rec = db.session.get(CreditRecord, record_id)
    if rec is None or not can_see_record(user, rec):
        raise NotFound(_("信用记录不存在"))
    return rec


def file_appeal(user, record_id, note, now=None):
    """The affected party files an appeal note; operators are told. One appeal per record."""
    rec = get_visible_record(user, record_id)
    if user.is_operator:

        raise PermissionDenied(_("运营人员不能代为申诉"))
    if rec.violation == "restored":
        raise Conflict(_("信用修复记录无需申诉"))
    if rec.appeal_status is not None:
        raise Conflict(_("该记录已提交过申诉"), appeal_status=rec.appeal_status)
    note = (note or "").strip()
    if not note:
        raise ValidationError(_("请填写申诉理由"), {"note": _("必填")})
    if len(note) > MAX_TEXT:
        raise ValidationError(_("申诉理由过长"), {"note": _("最多 %(n)s 个字符", n=MAX_TEXT)})
    rec.appeal_note = note
    rec.appeal_by_id = user.id
    rec.appealed_at = now or utcnow()
    rec.appeal_status = "open"
    operators = db.session.query(User).filter(User.roles_csv.like("%operator%"), User.active.is_(True)).all()
    for op in operators:
        if op.is_operator:
            notify(op, "credit", msg(N_("信用记录 #%(id)s 收到申诉"), id=rec.id), note[:300], link=f"/operator/credit/{rec.id}")
    db.session.flush()
    return rec


def decide_appeal(operator, record_id, decision, reply, now=None):
    """An operator upholds the record or revokes it; a revoked record no longer counts for the level."""
    if operator is None or not operator.is_operator:
        raise PermissionDenied(_("只有运营人员可以处理申诉"))
    rec = db.session.get(CreditRecord, record_id)
    if rec is None:
        raise NotFound(_("信用记录不存在"))
    if rec.appeal_status != "open":
        raise Conflict(_("该记录没有待处理的申诉"), appeal_status=rec.appeal_status)
    fields = {}
    if decision not in ("upheld", "revoked"):
        fields["decision"] = _("应为 upheld（维持）或 revoked（撤销）")
    reply = (reply or "").strip()
    if not reply:
        fields["reply"] = _("请写明处理理由")
    elif len(reply) > MAX_TEXT:
        fields["reply"] = _("最多 %(n)s 个字符", n=MAX_TEXT)
    if fields:
        raise ValidationError(_("申诉处理有误"), fields)
    subject = rec.subject
    before = {"appeal_status": rec.appeal_status, "credit_level": subject.credit_level}
    rec.appeal_status = decision
    rec.appeal_reply = reply
    rec.appeal_decided_by_id = operator.id
    rec.appeal_decided_at = now or utcnow()
    db.session.flush()
    subject.credit_level = _effective_level(subject)
    audit.record(operator, "credit.appeal_decide", "credit_record", rec.id, before,
                 {"appeal_status": decision, "credit_level": subject.credit_level})
    for member in _members(subject):
        notify(member, "credit", msg(N_("信用记录 #%(id)s：%(appeal)s"), id=rec.id, appeal=label(APPEAL_LABELS[decision])), reply[:300],
               link="/account/credit", email=True)
    db.session.flush()
    return rec


def evidence_file(user, record_id):
    """(path, stored name) of a record's evidence for a caller allowed to see the record; else NotFound."""
    rec = get_visible_record(user, record_id)
    if not rec.evidence:
        raise NotFound(_("没有证据文件"))
    path = upload_path(rec.evidence, area="credit")
    if not path.exists():
        raise NotFound(_("没有证据文件"))
    return path, rec.evidence
