"""Pledge financing (质押融资): an SME applies for a loan secured by its patents and trademarks (mixed
pledges allowed), banks ask, decline or offer, the SME accepts one offer, the CNIPA pledge registration
is entered and verified (the register then shows the pledge and its rules block assignment and licensing
without the pledgee's consent), and when the bank marks the loan repaid the release is entered, verified
and the pledge lifted. Functions flush, never commit; notifications are rows in the caller's transaction.

States: open → accepted → registration_submitted → pledged → release_pending → release_submitted →
released; open → withdrawn. See docs/finance.md.
"""
import re
from datetime import date

from flask_babel import gettext as _
from sqlalchemy import func, or_, select
from sqlalchemy.orm.exc import StaleDataError

from listings import register
from listings.models import Encumbrance
from marketplace.kernel import audit, labels
from marketplace.kernel.errors import Conflict, NotFound, PermissionDenied, ValidationError
from marketplace.kernel.extensions import db
from marketplace.kernel.i18n import N_
from marketplace.kernel.messages import msg
from marketplace.kernel.models import Organization, User
from marketplace.kernel.notify import notify
from marketplace.kernel.numbers import NumberError, parse_int
from marketplace.kernel.reports import MIN_CELL
from marketplace.kernel.timeutil import iso, local, utcnow
from marketplace.kernel.uploads import save_upload

from .access import db_id, is_bank, require_bank, require_sme  # noqa: F401  (require_bank: pages)
from .models import LoanApplication, LoanBank, LoanMessage, LoanOffer, LoanRight, Valuation

MAX_RIGHTS = 20
MAX_AMOUNT = 10**13  # fen
MAX_TERM = 360  # months
MAX_TEXT = 2000
MAX_BANKS = 20
MAX_RATE_BPS = 3600  # 36 % a year: the judicial cap
MAX_NUMBER = 40  # a right's application or registration number
MAX_REG_NUMBER = 60
# finance/schemas.py documents and checks these bounds on the API; the functions here on every input
ACTIVE = ("open", "accepted", "registration_submitted", "pledged", "release_pending", "release_submitted")
PLEDGED = ("pledged", "release_pending", "release_submitted")
STATUS_LABELS = labels.LOAN_STATUS
_REG_NUMBER = re.compile(r"[A-Za-z0-9\-（）()]{5,%d}" % MAX_REG_NUMBER)


def _text(raw, key, fields, *, minimum=2, maximum=MAX_TEXT, required=True):
    text = raw.strip() if isinstance(raw, str) else ""
    if raw is not None and not isinstance(raw, str):
        fields[key] = _("应为文本")
    elif required and len(text) < minimum:
        fields[key] = _("至少 %(n)s 个字符", n=minimum)
    elif len(text) > maximum:
        fields[key] = _("最多 %(n)s 个字符", n=maximum)
    return text


def _int(raw, key, fields, *, minimum, maximum):
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        fields[key] = _("必填")
        return None
    try:
        return parse_int(raw, minimum=minimum, maximum=maximum)
    except NumberError as exc:
        fields[key] = str(exc)
        return None


def bank_organizations():
    """Verified organisations with at least one bank member: where an SME may send its application."""
    orgs = db.session.scalars(select(Organization).join(User, User.organization_id == Organization.id)
                              .where(Organization.verified.is_(True), User.roles_csv.like("%bank%"))
                              .distinct().order_by(Organization.id))
    return [o for o in orgs if any(m.has_role("bank") for m in o.members)]


def _active_on(right_id):
    return db.session.scalar(select(LoanApplication.id).join(LoanRight).where(
        LoanRight.right_id == right_id, LoanApplication.status.in_(ACTIVE)).limit(1))


def apply(user, data, statements=None, now=None):
    """The SME's application: rights its organisation holds, none pledged or in another running application."""
    require_sme(user)
    now = now or utcnow()
    today = local(now).date()
    fields = {}
    if not isinstance(data, dict):
        raise ValidationError(_("请求体必须是 JSON 对象"), {"body": "expected an object"})
    rights = []
    raw_rights = data.get("rights")
    if not isinstance(raw_rights, list) or not raw_rights:
        fields["rights"] = _("至少选择一项出质的权利")
    elif len(raw_rights) > MAX_RIGHTS:
        fields["rights"] = _("最多 %(n)s 项权利", n=MAX_RIGHTS)
    else:
        for i, item in enumerate(raw_rights):
            kind = item.get("kind") if isinstance(item, dict) else None
            number = item.get("number") if isinstance(item, dict) else None
            if kind not in ("patent", "trademark") or not isinstance(number, str) or len(number) > MAX_NUMBER:
                fields[f"rights[{i}]"] = _("应为 {kind: patent|trademark, number}")
                continue
            right = register.find(kind, number)
            if right is None:
                fields[f"rights[{i}]"] = _("登记簿中没有该权利")
            elif not register.is_holder(right, organization_id=user.organization_id):
                fields[f"rights[{i}]"] = _("贵单位不是 %(number)s 的权利人", number=right.number)
            elif right.encumbrances_in_force("pledge", today):
                fields[f"rights[{i}]"] = _("%(number)s 已质押，不能重复出质", number=right.number)
            elif _active_on(right.id):
                fields[f"rights[{i}]"] = _("%(number)s 已在另一笔融资申请中", number=right.number)
            elif (right.term_end() or date.max) <= today:
                fields[f"rights[{i}]"] = _("%(number)s 的保护期已届满", number=right.number)
            elif right in rights:
                fields[f"rights[{i}]"] = _("重复的权利")
            else:
                rights.append(right)
    amount = _int(data.get("amount"), "amount", fields, minimum=1, maximum=MAX_AMOUNT)
    term = _int(data.get("term_months"), "term_months", fields, minimum=1, maximum=MAX_TERM)
    purpose = _text(data.get("purpose"), "purpose", fields, minimum=5)
    valuation = None
    if data.get("valuation_id") not in (None, ""):
        vid = _int(data.get("valuation_id"), "valuation_id", fields, minimum=1, maximum=2**31 - 1)
        valuation = db.session.get(Valuation, vid) if vid else None
        if vid and (valuation is None or valuation.organization_id != user.organization_id):
            fields["valuation_id"] = _("不是贵单位的估值报告")
    listed = data.get("listed")
    listed = False if listed is None else listed  # null: not given
    if not isinstance(listed, bool):
        fields["listed"] = _("应为 true 或 false")
    banks = data.get("banks") or []
    chosen = []
    if not isinstance(banks, list) or len(banks) > MAX_BANKS:
        fields["banks"] = _("应为银行机构编号的列表（最多 %(n)s 家）", n=MAX_BANKS)
    else:
        allowed = {o.id: o for o in bank_organizations()}
        for i, raw in enumerate(banks):
            if db_id(raw) is None or raw not in allowed:
                fields[f"banks[{i}]"] = _("不是经核验的银行机构")
            elif raw not in chosen:
                chosen.append(raw)
        if not chosen and listed is False and "banks" not in fields:
            fields["banks"] = _("请选择至少一家银行，或将申请列入项目库")
    if fields:
        raise ValidationError(_("融资申请有误"), fields)
    stored = None
    if statements is not None and getattr(statements, "filename", ""):
        from marketplace.kernel.uploads import save_upload

        stored = save_upload(statements, field="statements", area="docs")[0]
    application = LoanApplication(organization_id=user.organization_id, applicant_id=user.id, amount=amount,
                                  term_months=term, purpose=purpose, valuation=valuation, listed=listed,
                                  statements=stored, status="open", created_at=now, updated_at=now)
    application.rights = [LoanRight(right=r, position=i) for i, r in enumerate(rights)]
    application.banks = [LoanBank(organization_id=o) for o in chosen]
    db.session.add(application)
    db.session.flush()
    for member in _bank_members(application):
        notify(member, "finance", msg(N_("新的质押融资申请 #%(id)s"), id=application.id), msg(N_("%(name)s 申请融资。"), name=user.organization.name),
               link=f"/finance/loans/{application.id}")
    return application


def _bank_members(application):
    orgs = {b.organization_id for b in application.banks}
    if application.listed:
        orgs |= {o.id for o in bank_organizations()}
    return [m.id for o in orgs for m in db.session.get(Organization, o).members if m.has_role("bank")]


def bank_sees(user, application):
    """A verified bank's staff see applications sent to their bank, or listed in the project database, and
    any application their bank made an offer on."""
    if not is_bank(user):
        return False
    org = user.organization_id
    if any(o.organization_id == org for o in application.offers):
        return True
    if application.status == "withdrawn":
        return False
    return application.listed or any(b.organization_id == org for b in application.banks)


def can_view(user, application):
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if user.is_operator or user.organization_id == application.organization_id and not user.has_role("bank"):
        return True
    return bank_sees(user, application)


def get_for(application_id, user):
    application = db.session.get(LoanApplication, application_id)
    if application is None or not can_view(user, application):
        raise NotFound(_("融资申请不存在"))
    return application


def is_applicant(user, application):
    return user is not None and user.organization_id == application.organization_id and not user.has_role("bank")


def _own(user, application_id):
    application = get_for(application_id, user)
    if not is_applicant(user, application):
        raise PermissionDenied(_("只有申请企业可以办理"))
    return application


def _lender(user, application):
    """The bank whose offer the SME accepted."""
    offer = application.accepted_offer
    return offer is not None and is_bank(user) and user.organization_id == offer.organization_id


def mine(user):
    if user.organization_id is None:
        return []
    return list(db.session.scalars(select(LoanApplication).where(
        LoanApplication.organization_id == user.organization_id).order_by(LoanApplication.id.desc()).limit(200)))


def queue(user, listed_only=False):
    """Applications a bank sees: open ones sent to it or listed (``listed_only``: the project database)."""
    require_bank(user)
    query = select(LoanApplication).where(LoanApplication.status == "open")
    if listed_only:
        query = query.where(LoanApplication.listed.is_(True))
    else:
        sent = select(LoanBank.application_id).where(LoanBank.organization_id == user.organization_id)
        query = query.where(or_(LoanApplication.listed.is_(True), LoanApplication.id.in_(sent)))
    return list(db.session.scalars(query.order_by(LoanApplication.id.desc()).limit(200)))


def lent(user):
    require_bank(user)
    return list(db.session.scalars(select(LoanApplication).join(
        LoanOffer, LoanOffer.id == LoanApplication.accepted_offer_id).where(
        LoanOffer.organization_id == user.organization_id).order_by(LoanApplication.id.desc()).limit(200)))


def _bump(application, now):
    application.updated_at = now
    try:
        db.session.flush()
    except StaleDataError:
        db.session.rollback()
        raise Conflict(_("申请刚被他人更新，请刷新后重试")) from None


def attach_statements(user, application_id, file_storage, now=None):
    """The applicant uploads (or replaces) its financial statements while banks are still looking."""
    application = _own(user, application_id)
    if application.status != "open":
        raise Conflict(_("只有征集报价中的申请可以更换附件"))
    application.statements = save_upload(file_storage, field="statements", area="docs")[0]
    _bump(application, now or utcnow())
    return application


def statements_of(user, application_id):
    """The stored statements of an application the caller sees (None without statements); else NotFound."""
    return get_for(application_id, user).statements


# --- banks -----------------------------------------------------------------------------------------

def _bank_on_open(user, application_id):
    require_bank(user)
    application = get_for(application_id, user)
    if application.status != "open":
        raise Conflict(_("该申请已不在征集报价（%(status)s）", status=_(STATUS_LABELS[application.status])),
                       status=application.status)
    return application


def ask(user, application_id, body, now=None):
    application = _bank_on_open(user, application_id)
    fields = {}
    text = _text(body, "body", fields)
    if fields:
        raise ValidationError(_("请填写问题"), fields)
    message = LoanMessage(application_id=application.id, bank_organization_id=user.organization_id,
                          author_id=user.id, from_bank=True, body=text, created_at=now or utcnow())
    db.session.add(message)
    notify(application.applicant_id, "finance", msg(N_("银行提问：融资申请 #%(id)s"), id=application.id), text[:200],
           link=f"/finance/loans/{application.id}")
    db.session.flush()
    return message


def answer(user, application_id, bank_organization_id, body, now=None):
    application = _own(user, application_id)
    fields = {}
    text = _text(body, "body", fields)
    asked = any(m.from_bank and m.bank_organization_id == bank_organization_id for m in application.messages)
    if not asked:
        fields["bank_organization_id"] = _("该银行没有提问")
    if fields:
        raise ValidationError(_("回复有误"), fields)
    message = LoanMessage(application_id=application.id, bank_organization_id=bank_organization_id,
                          author_id=user.id, from_bank=False, body=text, created_at=now or utcnow())
    db.session.add(message)
    db.session.flush()
    return message


def _open_offer_of(application, org_id):
    return next((o for o in application.offers if o.organization_id == org_id and o.status == "open"), None)


def make_offer(user, application_id, data, now=None):
    application = _bank_on_open(user, application_id)
    if not isinstance(data, dict):
        raise ValidationError(_("请求体必须是 JSON 对象"), {"body": "expected an object"})
    fields = {}
    amount = _int(data.get("amount"), "amount", fields, minimum=1, maximum=MAX_AMOUNT)
    rate = _int(data.get("rate_bps"), "rate_bps", fields, minimum=1, maximum=MAX_RATE_BPS)
    term = _int(data.get("term_months"), "term_months", fields, minimum=1, maximum=MAX_TERM)
    conditions = _text(data.get("conditions"), "conditions", fields, minimum=0, required=False)
    if fields:
        raise ValidationError(_("报价有误"), fields)
    if _open_offer_of(application, user.organization_id) is not None:
        raise Conflict(_("贵行对该申请已有在效的报价"))
    offer = LoanOffer(application_id=application.id, organization_id=user.organization_id, made_by_id=user.id,
                      kind="offer", amount=amount, rate_bps=rate, term_months=term, conditions=conditions or None,
                      status="open", created_at=now or utcnow())
    db.session.add(offer)
    notify(application.applicant_id, "finance", msg(N_("收到融资报价：申请 #%(id)s"), id=application.id),
           msg(N_("%(name)s 报价。"), name=user.organization.name), link=f"/finance/loans/{application.id}")
    db.session.flush()
    return offer


def decline(user, application_id, reason, now=None):
    application = _bank_on_open(user, application_id)
    fields = {}
    text = _text(reason, "reason", fields)
    if fields:
        raise ValidationError(_("请写明理由"), fields)
    existing = _open_offer_of(application, user.organization_id)
    if existing is not None:
        existing.status = "withdrawn"
    row = LoanOffer(application_id=application.id, organization_id=user.organization_id, made_by_id=user.id,
                    kind="decline", conditions=text, status="declined", created_at=now or utcnow())
    db.session.add(row)
    notify(application.applicant_id, "finance", msg(N_("银行婉拒：融资申请 #%(id)s"), id=application.id), text[:200],
           link=f"/finance/loans/{application.id}")
    db.session.flush()
    return row


# --- the SME ------------------------------------------------------------------------------------------

def accept(user, offer_id, now=None):
    offer = db.session.get(LoanOffer, offer_id)
    if offer is None or not can_view(user, offer.application):
        raise NotFound(_("报价不存在"))
    application = offer.application
    if not is_applicant(user, application):
        raise PermissionDenied(_("只有申请企业可以接受报价"))
    if application.status != "open" or offer.status != "open" or offer.kind != "offer":
        raise Conflict(_("该报价已不能接受"))
    now = now or utcnow()
    offer.status, offer.decided_at = "accepted", now
    for other in application.offers:
        if other.id != offer.id and other.status == "open":
            other.status, other.decided_at = "superseded", now
    application.status, application.accepted_offer_id = "accepted", offer.id
    _bump(application, now)
    db.session.expire(application, ["accepted_offer"])
    for member in db.session.get(Organization, offer.organization_id).members:
        notify(member.id, "finance", msg(N_("报价已被接受：融资申请 #%(id)s"), id=application.id),
               msg(N_("请与企业办理质押登记。")), link=f"/finance/loans/{application.id}")
    return application


def withdraw(user, application_id, now=None):
    application = _own(user, application_id)
    if application.status != "open":
        raise Conflict(_("只有征集报价中的申请可以撤回"))
    now = now or utcnow()
    application.status = "withdrawn"
    for offer in application.offers:
        if offer.status == "open":
            offer.status, offer.decided_at = "withdrawn", now
    _bump(application, now)
    return application


# --- the pledge registration and its release -----------------------------------------------------------

def _registration(data, fields, application, today):
    number = data.get("number") if isinstance(data, dict) else None
    number = number.strip() if isinstance(number, str) else ""
    if not _REG_NUMBER.fullmatch(number):
        fields["number"] = _("登记编号应为 5 至 60 位字母、数字或连字符")
    raw = data.get("date") if isinstance(data, dict) else None
    when = None
    try:
        when = date.fromisoformat(raw) if isinstance(raw, str) and len(raw) == 10 else None
    except ValueError:
        when = None
    if when is None:
        fields["date"] = _("日期格式应为 YYYY-MM-DD")
    elif when > today:
        fields["date"] = _("日期不能晚于今天")
    elif when < local(application.created_at).date():
        fields["date"] = _("日期不能早于申请日")
    return number, when


def _party_to_registration(user, application):
    if not (is_applicant(user, application) or _lender(user, application)):
        raise PermissionDenied(_("只有申请企业或贷款银行可以登记"))


def record_registration(user, application_id, data, now=None):
    """The SME or the lending bank enters CNIPA's pledge registration (number and date) for an operator."""
    application = get_for(application_id, user)
    _party_to_registration(user, application)
    if application.status != "accepted":
        raise Conflict(_("只有已接受报价的申请可以登记质押"))
    now = now or utcnow()
    fields = {}
    number, when = _registration(data, fields, application, local(now).date())
    if fields:
        raise ValidationError(_("质押登记信息有误"), fields)
    application.pledge_number, application.pledge_date, application.status = number, when, "registration_submitted"
    _bump(application, now)
    return application


def verify_registration(operator, application_id, now=None):
    """An operator checked the registration against CNIPA: the register shows the pledge on every right."""
    _require_operator(operator)
    application = get_for(application_id, operator)
    if application.status != "registration_submitted":
        raise Conflict(_("没有待核验的质押登记"))
    now = now or utcnow()
    today = local(now).date()
    offer = application.accepted_offer
    bank = db.session.get(Organization, offer.organization_id)
    for link in application.rights:
        right = link.right
        if not register.is_holder(right, organization_id=application.organization_id):
            raise Conflict(_("%(number)s 的权利人已变更，不能登记质押", number=right.number))
        if right.encumbrances_in_force("pledge", today):
            raise Conflict(_("%(number)s 已有在效的质押", number=right.number))
    for link in application.rights:
        right = link.right
        pledge = Encumbrance(kind="pledge", party_name=bank.name, party_organization_id=bank.id,
                             registration_number=application.pledge_number, starts_on=application.pledge_date,
                             source="platform", created_at=now)
        right.encumbrances.append(pledge)
        db.session.flush()
        link.encumbrance_id = pledge.id
        register.record(right, "pledged", {"pledgee": bank.name, "registration_number": application.pledge_number,
                                           "registered_on": application.pledge_date, "loan_application": application.id,
                                           "encumbrance_id": pledge.id}, source="operator", actor=operator, now=now)
    application.status, application.pledge_verified_at = "pledged", now
    audit.record(operator, "loan.pledge_verified", "loan_application", application.id,
                 before={"status": "registration_submitted"}, after={"status": "pledged",
                                                                     "number": application.pledge_number})
    notify(application.applicant_id, "finance", msg(N_("质押已登记：融资申请 #%(id)s"), id=application.id),
           msg(N_("登记簿已记载质押（%(pledge_number)s）。"), pledge_number=application.pledge_number), link=f"/finance/loans/{application.id}")
    _bump(application, now)
    return application


def mark_repaid(user, application_id, now=None):
    application = get_for(application_id, user)
    if not _lender(user, application):
        raise PermissionDenied(_("只有贷款银行可以确认还款"))
    if application.status != "pledged":
        raise Conflict(_("只有质押已登记的贷款可以确认还款"))
    now = now or utcnow()
    application.status, application.repaid_at = "release_pending", now
    notify(application.applicant_id, "finance", msg(N_("贷款已还清：融资申请 #%(id)s"), id=application.id),
           msg(N_("请办理质押注销登记后登记注销通知书编号。")), link=f"/finance/loans/{application.id}")
    _bump(application, now)
    return application


def record_release(user, application_id, data, now=None):
    application = get_for(application_id, user)
    _party_to_registration(user, application)
    if application.status != "release_pending":
        raise Conflict(_("贷款尚未确认还清，不能登记注销"))
    now = now or utcnow()
    fields = {}
    number, when = _registration(data, fields, application, local(now).date())
    if fields:
        raise ValidationError(_("注销登记信息有误"), fields)
    application.release_number, application.release_date, application.status = number, when, "release_submitted"
    _bump(application, now)
    return application


def verify_release(operator, application_id, now=None):
    """An operator checked the release (注销) against CNIPA: the pledges are lifted in the register."""
    _require_operator(operator)
    application = get_for(application_id, operator)
    if application.status != "release_submitted":
        raise Conflict(_("没有待核验的注销登记"))
    now = now or utcnow()
    for link in application.rights:
        pledge = db.session.get(Encumbrance, link.encumbrance_id) if link.encumbrance_id else None
        if pledge is not None and pledge.ended_at is None:
            pledge.ended_at, pledge.ended_reason = now, f"质押注销登记 {application.release_number}"[:200]
            register.record(link.right, "pledge_released", {"encumbrance_id": pledge.id,
                                                            "release_number": application.release_number,
                                                            "loan_application": application.id},
                            source="operator", actor=operator, now=now)
    application.status, application.released_at = "released", now
    audit.record(operator, "loan.pledge_released", "loan_application", application.id,
                 before={"status": "release_submitted"}, after={"status": "released"})
    notify(application.applicant_id, "finance", msg(N_("质押已注销：融资申请 #%(id)s"), id=application.id), "",
           link=f"/finance/loans/{application.id}")
    _bump(application, now)
    return application


def operator_queue():
    return list(db.session.scalars(select(LoanApplication).where(LoanApplication.status.in_(
        ("registration_submitted", "release_submitted"))).order_by(LoanApplication.id)))


def _require_operator(user):
    if user is None or not user.is_operator:
        raise PermissionDenied(_("只有运营人员可以核验登记"))


# --- what pages and the API show ------------------------------------------------------------------------

def right_status(right, today=None):
    """Register status a bank weighs: holders, pledges and licences in force, the listing grade."""
    today = today or local(utcnow()).date()
    grades = [(lk.listing.grade, lk.listing.grade_score) for lk in right.listing_links
              if lk.listing is not None and lk.listing.grade]
    return {"kind": right.kind, "number": right.number, "title": right.title, "holders": right.holder_names,
            "term_end": (right.term_end() or None) and right.term_end().isoformat(),
            "pledges": [{"pledgee": e.party_name, "registration_number": e.registration_number}
                        for e in right.encumbrances_in_force("pledge", today)],
            "licences": [{"type": e.licence_type, "licensee": e.party_name, "ends_on": e.ends_on and e.ends_on.isoformat()}
                         for e in right.licences_in_force(today)],
            "grade": grades[0][0] if grades else None,
            "ipc_codes": right.ipc_codes or [], "nice_classes": right.nice_classes or []}


def application_json(application, user):
    sees_all = user.is_operator or is_applicant(user, application)
    offers = [o for o in application.offers if sees_all or o.organization_id == user.organization_id]
    messages = [m for m in application.messages if sees_all or m.bank_organization_id == user.organization_id]
    return {
        "id": application.id, "organization": application.organization.name, "amount": application.amount,
        "currency": "CNY", "term_months": application.term_months, "purpose": application.purpose,
        "status": application.status, "listed": application.listed,
        "rights": [right_status(link.right) for link in application.rights],
        "valuation": ({"id": application.valuation.id, "value": application.valuation.value,
                       "self_assessment": application.valuation.status != "signed_off"}
                      if application.valuation else None),
        "statements": bool(application.statements),
        "banks": [b.organization_id for b in application.banks] if sees_all else None,
        "offers": [{"id": o.id, "bank": o.organization.name, "bank_organization_id": o.organization_id,
                    "kind": o.kind, "amount": o.amount, "rate_bps": o.rate_bps, "term_months": o.term_months,
                    "conditions": o.conditions, "status": o.status, "created_at": iso(o.created_at)} for o in offers],
        "messages": [{"bank_organization_id": m.bank_organization_id, "from_bank": m.from_bank, "body": m.body,
                      "created_at": iso(m.created_at)} for m in messages],
        "pledge": {"number": application.pledge_number,
                   "date": application.pledge_date and application.pledge_date.isoformat(),
                   "verified_at": iso(application.pledge_verified_at),
                   "release_number": application.release_number,
                   "release_date": application.release_date and application.release_date.isoformat(),
                   "released_at": iso(application.released_at)},
        "created_at": iso(application.created_at),
    }


def stats():
    """Figures for /stats: applications, loans granted and their amounts, pledged rights by field."""
    total = db.session.scalar(select(func.count(LoanApplication.id))) or 0
    granted = db.session.execute(select(func.count(LoanOffer.id), func.coalesce(func.sum(LoanOffer.amount), 0))
                                 .join(LoanApplication, LoanApplication.accepted_offer_id == LoanOffer.id)
                                 .where(LoanApplication.status.in_(PLEDGED + ("released",)))).one()
    fields = {}
    links = db.session.scalars(select(LoanRight).join(LoanApplication).where(
        LoanApplication.status.in_(PLEDGED + ("released",))))
    for link in links:
        r = link.right
        key = ((r.ipc_codes or ["?"])[0][:1] if r.kind == "patent" else f"Nice {(r.nice_classes or ['?'])[0]}")
        fields[key] = fields.get(key, 0) + 1
    # the public page's rule for amounts (marketplace.kernel.reports): a sum of fewer than MIN_CELL loans would tell
    # one SME's loan, so it is withheld, never shown as a number
    shown = int(granted[0]) >= MIN_CELL
    return {"applications": int(total), "loans_granted": int(granted[0]),
            "amount_granted": int(granted[1]) if shown else None, "min_cell": MIN_CELL,
            "pledged_rights_by_field": dict(sorted(fields.items()))}
