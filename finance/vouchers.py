"""Innovation vouchers (创新券, "全国使用、广东兑付"): a programme (a verified voucher issuer) creates batches,
eligible SMEs use their voucher on a platform fee, and the programme reimburses the platform.

Money (escrow/ledger.py, one idempotent entry each, postings summing to zero):

    redeem V     voucher_due:<issuer> −V           platform_revenue +V
    transfer T   gateway_clearing:offline −T       platform_revenue +T   (the rest of the fee, by bank)
    settle S     voucher_paid:<issuer> −S          voucher_due:<issuer> +S   (the programme reimbursed)

A voucher's uses never exceed its face value; a charge's payments never exceed its amount; a voucher is
used only by its SME, within its validity, on a service its batch names, and (single-use) once.
"""
import csv
import io
from datetime import date

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm.exc import StaleDataError

from escrow.ledger import VOUCHER_DUE, VOUCHER_PAID, Leg, clearing_account, post
from escrow.models import LedgerAccount, Posting
from marketplace.kernel import audit, labels
from marketplace.kernel.errors import Conflict, NotFound, PermissionDenied, ValidationError
from marketplace.kernel.extensions import db
from marketplace.kernel.i18n import N_
from marketplace.kernel.messages import label, msg
from marketplace.kernel.models import Organization
from marketplace.kernel.numbers import NumberError, parse_int
from marketplace.kernel.regions import REGIONS
from marketplace.kernel.timeutil import local, utcnow

from .access import db_id, is_issuer, require_issuer, require_sme  # noqa: F401  (require_issuer: pages)
from .models import SERVICES, ServiceCharge, Voucher, VoucherBatch, VoucherRedemption

SERVICE_LABELS = labels.VOUCHER_SERVICE
MAX_FACE = 10**10  # fen (¥1 亿)
MAX_NAMED = 500
PROGRAMME_LENGTH = (2, 200)
REFERENCE_LENGTH = (4, 100)  # a bank transfer's reference (流水号)


def _date(raw, key, fields):
    try:
        return date.fromisoformat(raw) if isinstance(raw, str) and len(raw) == 10 else None
    except ValueError:
        return None


def create_batch(user, data, now=None):
    require_issuer(user)
    now = now or utcnow()
    today = local(now).date()
    fields = {}
    if not isinstance(data, dict):
        raise ValidationError(_("请求体必须是 JSON 对象"), {"body": "expected an object"})
    programme = data.get("programme")
    programme = programme.strip() if isinstance(programme, str) else ""
    if not PROGRAMME_LENGTH[0] <= len(programme) <= PROGRAMME_LENGTH[1]:
        fields["programme"] = _("2 至 200 个字符")
    face = None
    try:
        face = parse_int(data.get("face_value") if data.get("face_value") is not None else "", minimum=1,
                         maximum=MAX_FACE)
    except NumberError as exc:
        fields["face_value"] = str(exc)
    start = _date(data.get("valid_from"), "valid_from", fields)
    end = _date(data.get("valid_until"), "valid_until", fields)
    if start is None:
        fields["valid_from"] = _("日期格式应为 YYYY-MM-DD")
    if end is None:
        fields["valid_until"] = _("日期格式应为 YYYY-MM-DD")
    elif start is not None and end < start:
        fields["valid_until"] = _("截止日期不能早于起始日期")
    elif end < today:
        fields["valid_until"] = _("截止日期已过")
    services = data.get("services")
    if not isinstance(services, list) or not services or any(s not in SERVICES for s in services):
        fields["services"] = _("应为以下服务的列表：%(s)s", s=", ".join(SERVICES))
    regions = data.get("regions") or []
    if not isinstance(regions, list) or any(not isinstance(r, str) or r not in REGIONS for r in regions):
        fields["regions"] = _("未知的地区")
        regions = []
    named = data.get("organization_ids") or []
    if not isinstance(named, list) or len(named) > MAX_NAMED or any(
            db_id(o) is None or db.session.get(Organization, o) is None
            for o in named[:MAX_NAMED] if isinstance(named, list)):
        fields["organization_ids"] = _("应为平台上单位编号的列表（最多 %(n)s 个）", n=MAX_NAMED)
        named = []
    if not regions and not named and "regions" not in fields and "organization_ids" not in fields:
        fields["regions"] = _("请按地区或指定单位确定适用企业")
    single = data.get("single_use")
    single = False if single is None else single  # null: not given
    if not isinstance(single, bool):
        fields["single_use"] = _("应为 true 或 false")
    if fields:
        raise ValidationError(_("创新券批次有误"), fields)
    batch = VoucherBatch(issuer_organization_id=user.organization_id, created_by_id=user.id, programme=programme,
                         face_value=face, valid_from=start, valid_until=end, services=sorted(set(services)),
                         regions=sorted(set(regions)), organization_ids=sorted(set(named)), single_use=single,
                         created_at=now)
    db.session.add(batch)
    db.session.flush()
    audit.record(user, "voucher.batch", "voucher_batch", batch.id, before={},
                 after={"programme": programme, "face_value": face})
    return batch


def eligible(batch, org):
    return org is not None and org.verified and org.id != batch.issuer_organization_id and (
        org.id in (batch.organization_ids or []) or org.region in (batch.regions or []))


def vouchers_for(user, now=None):
    """The SME's vouchers: one per batch it is eligible for (rows made on first sight), newest first."""
    require_sme(user)
    today = local(now or utcnow()).date()
    org = user.organization
    out = []
    batches = db.session.scalars(select(VoucherBatch).where(VoucherBatch.valid_until >= today)
                                 .order_by(VoucherBatch.id.desc()).limit(200))
    for batch in batches:
        if eligible(batch, org):
            out.append(_voucher(batch, org))
    db.session.flush()
    return out


def _voucher(batch, org):
    row = db.session.scalar(select(Voucher).where(Voucher.batch_id == batch.id, Voucher.organization_id == org.id))
    if row is None:
        row = Voucher(batch=batch, organization_id=org.id, used=0)
        db.session.add(row)
        db.session.flush()
    return row


def remaining(voucher):
    return 0 if voucher.closed else voucher.batch.face_value - voucher.used


def charges_for(user):
    require_sme(user)
    return list(db.session.scalars(select(ServiceCharge).where(
        ServiceCharge.organization_id == user.organization_id).order_by(ServiceCharge.id.desc()).limit(200)))


def _charge_for(user, charge_id):
    charge = db.session.get(ServiceCharge, charge_id) if db_id(charge_id) else None
    if charge is None or (not user.is_operator and charge.organization_id != user.organization_id):
        raise NotFound(_("费用不存在"))
    return charge


def covers(batch, service):
    """A batch pays the services it names; ``platform_fee`` (平台服务费) names every fee the platform charges
    (a deal's fee and a valuation's review alike)."""
    return service in batch.services or "platform_fee" in batch.services


def redeem(user, batch_id, charge_id, amount, now=None):
    """The SME pays ``amount`` of a charge with its voucher of ``batch_id``; the programme's money, booked.
    A deal's fee goes through ``finance.deal_fees.apply`` (the deal's lock; the amount held until release)."""
    require_sme(user)
    charge = _charge_for(user, charge_id)
    if charge.organization_id != user.organization_id:
        raise PermissionDenied(_("只能支付本单位的费用"))
    if charge.deal_id is not None:
        from . import deal_fees

        return deal_fees.apply(user, charge.deal_id, batch_id, amount, now=now)
    return use(user, batch_id, charge, amount, now=now)


def use(user, batch_id, charge, amount, now=None, hold=False):
    """Every rule of a voucher's use, in one place (the caller found ``charge`` and may pay it). ``hold``: a
    deal's fee, set aside (status ``held``) and booked when the deal is released (``finance.deal_fees``)."""
    now = now or utcnow()
    today = local(now).date()
    batch = db.session.get(VoucherBatch, batch_id) if db_id(batch_id) else None
    if batch is None or not eligible(batch, user.organization):
        raise NotFound(_("没有可用的创新券"))
    voucher = _voucher(batch, user.organization)
    fields = {}
    try:
        amount = parse_int(amount if amount is not None else "", minimum=1, maximum=MAX_FACE)
    except NumberError as exc:
        fields["amount"] = str(exc)
    if fields:
        raise ValidationError(_("金额有误"), fields)
    if today < batch.valid_from or today > batch.valid_until:
        raise Conflict(_("创新券不在有效期内（%(a)s 至 %(b)s）", a=batch.valid_from.isoformat(),
                         b=batch.valid_until.isoformat()))
    if not covers(batch, charge.service):
        raise Conflict(_("该创新券不能用于%(service)s", service=_(SERVICE_LABELS[charge.service])))
    if charge.status != "due":
        raise Conflict(_("该费用已付清"))
    if voucher.closed:
        raise Conflict(_("该创新券已使用"))
    if amount > remaining(voucher):
        raise ValidationError(_("超出创新券余额"), {"amount": _("最多 %(n)s 分", n=remaining(voucher))})
    if amount > charge.outstanding:
        raise ValidationError(_("超出应付金额"), {"amount": _("最多 %(n)s 分", n=charge.outstanding)})
    voucher.used += amount
    if batch.single_use:
        voucher.closed = True
    charge.paid_by_voucher += amount
    if charge.outstanding == 0 and not hold:
        charge.status, charge.paid_at = "paid", now
    redemption = VoucherRedemption(voucher=voucher, charge=charge, amount=amount, service=charge.service,
                                   status="held" if hold else "booked", used_by_id=user.id, created_at=now)
    db.session.add(redemption)
    try:
        db.session.flush()
    except StaleDataError:
        db.session.rollback()
        raise Conflict(_("创新券或费用刚被更新，请刷新后重试")) from None
    if not hold:
        book(redemption, user, now)
    return redemption


def book(redemption, actor, now, deal=None):
    """The ledger entry of one use: the programme's money pays the platform (``voucher_due`` → revenue)."""
    batch = redemption.voucher.batch
    post(f"voucher_redemption:{redemption.id}", "voucher_redeem",
         [Leg(VOUCHER_DUE + str(batch.issuer_organization_id), -redemption.amount),
          Leg("platform_revenue", redemption.amount)], deal=deal,
         memo=msg(N_("创新券 %(programme)s 支付%(service)s #%(charge_id)s"), programme=batch.programme, service=label(SERVICE_LABELS[redemption.service]), charge_id=redemption.charge_id),
         actor=actor, now=now)
    redemption.status = "booked"


def give_back(redemption, actor, now, deal=None):
    """A use is undone (its deal ended unsold): the amount goes back to the voucher and, if it was booked, the
    ledger returns it to the programme (``voucher_return``). A reimbursed use is then owed back to the
    programme: its ``voucher_due`` goes above zero by that amount until settled with it."""
    voucher = redemption.voucher
    if redemption.status == "booked":
        batch = voucher.batch
        post(f"voucher_redemption:{redemption.id}:return", "voucher_return",
             [Leg("platform_revenue", -redemption.amount),
              Leg(VOUCHER_DUE + str(batch.issuer_organization_id), redemption.amount)], deal=deal,
             memo=msg(N_("创新券 %(programme)s 退回：%(service)s #%(charge_id)s"), programme=batch.programme, service=label(SERVICE_LABELS[redemption.service]), charge_id=redemption.charge_id),
             actor=actor, now=now)
    voucher.used -= redemption.amount
    redemption.charge.paid_by_voucher -= redemption.amount
    redemption.status = "returned"
    if voucher.batch.single_use and voucher.closed and not db.session.scalar(
            select(VoucherRedemption.id).where(VoucherRedemption.voucher_id == voucher.id,
                                               VoucherRedemption.id != redemption.id,
                                               VoucherRedemption.status != "returned").limit(1)):
        voucher.closed = False  # its one use did not happen after all


def confirm_transfer(operator, charge_id, reference, amount, now=None):
    """An operator saw the rest of a charge arrive by bank transfer (the whole outstanding amount)."""
    if operator is None or not operator.is_operator:
        raise PermissionDenied(_("只有运营人员可以确认到账"))
    charge = _charge_for(operator, charge_id)
    fields = {}
    reference = reference.strip() if isinstance(reference, str) else ""
    if not REFERENCE_LENGTH[0] <= len(reference) <= REFERENCE_LENGTH[1]:
        fields["reference"] = _("4 至 100 个字符")
    try:
        amount = parse_int(amount if amount is not None else "", minimum=1, maximum=MAX_FACE)
    except NumberError as exc:
        fields["amount"] = str(exc)
    if fields:
        raise ValidationError(_("到账信息有误"), fields)
    if charge.deal_id is not None:
        raise Conflict(_("交易服务费在放款时从托管资金中扣除，不能另行转账"))
    if charge.status != "due":
        raise Conflict(_("该费用已付清"))
    if amount != charge.outstanding:
        raise ValidationError(_("到账金额与应付余额不符"), {"amount": _("应为 %(n)s 分", n=charge.outstanding)})
    if db.session.scalar(select(ServiceCharge.id).where(ServiceCharge.transfer_reference == reference)):
        raise Conflict(_("该银行流水号已登记"))
    now = now or utcnow()
    charge.paid_by_transfer += amount
    charge.transfer_reference, charge.status, charge.paid_at = reference, "paid", now
    try:
        db.session.flush()
    except StaleDataError:
        db.session.rollback()
        raise Conflict(_("费用刚被更新，请刷新后重试")) from None
    post(f"charge:{charge.id}:transfer", "charge_transfer",
         [Leg(clearing_account("offline"), -amount), Leg("platform_revenue", amount)],
         memo=msg("%(service)s #%(id)s", service=label(SERVICE_LABELS[charge.service]), id=charge.id), reference=reference, actor=operator, now=now)
    audit.record(operator, "charge.transfer", "service_charge", charge.id, before={"status": "due"},
                 after={"status": "paid", "reference": reference, "amount": amount})
    return charge


def settle(operator, issuer_organization_id, reference, now=None):
    """The programme reimbursed every unsettled redemption of its vouchers (兑付): one bank reference."""
    if operator is None or not operator.is_operator:
        raise PermissionDenied(_("只有运营人员可以登记兑付"))
    reference = reference.strip() if isinstance(reference, str) else ""
    if not REFERENCE_LENGTH[0] <= len(reference) <= REFERENCE_LENGTH[1]:
        raise ValidationError(_("请填写银行流水号"), {"reference": _("4 至 100 个字符")})
    rows = _redemptions(issuer_organization_id, unsettled=True)
    if not rows:
        raise Conflict(_("没有待兑付的创新券"))
    now = now or utcnow()
    total = sum(r.amount for r in rows)
    entry, created = post(f"voucher_settlement:{issuer_organization_id}:{reference}", "voucher_settle",
                          [Leg(VOUCHER_PAID + str(issuer_organization_id), -total),
                           Leg(VOUCHER_DUE + str(issuer_organization_id), total)],
                          memo=msg(N_("创新券兑付 %(n)s 笔"), n=len(rows)), reference=reference, actor=operator, now=now)
    if not created:
        raise Conflict(_("该银行流水号已登记"))
    for r in rows:
        r.settled_at, r.settlement_reference = now, reference
    audit.record(operator, "voucher.settle", "organization", issuer_organization_id, before={},
                 after={"reference": reference, "amount": total, "count": len(rows)})
    db.session.flush()
    return total, len(rows)


def _redemptions(issuer_organization_id, *, unsettled=False, start=None, end=None):
    query = (select(VoucherRedemption).join(Voucher).join(VoucherBatch)
             .where(VoucherBatch.issuer_organization_id == issuer_organization_id))
    query = query.where(VoucherRedemption.status != "held")  # a deal's fee set aside, not used yet
    if unsettled:
        query = query.where(VoucherRedemption.settled_at.is_(None), VoucherRedemption.status == "booked")
    if start is not None:
        query = query.where(VoucherRedemption.created_at >= start)
    if end is not None:
        query = query.where(VoucherRedemption.created_at < end)
    return list(db.session.scalars(query.order_by(VoucherRedemption.id).limit(10000)))


def report(user, start=None, end=None):
    """The issuer's redemptions: every row (booked, or returned when a deal ended unsold), totals per SME, per
    service and per month of what its vouchers paid, and ``held``: what they set aside on deals still running."""
    if not (is_issuer(user) or (user is not None and user.is_operator)):
        raise PermissionDenied(_("只有创新券发放机构可以查看兑付报表"))
    if user.is_operator and not is_issuer(user):
        raise PermissionDenied(_("请以发放机构账户查看"))
    rows = _redemptions(user.organization_id, start=start, end=end)
    per_sme, per_service, per_month = {}, {}, {}
    booked = [r for r in rows if r.status == "booked"]
    for r in booked:
        name = r.voucher.organization.name
        per_sme[name] = per_sme.get(name, 0) + r.amount
        per_service[r.service] = per_service.get(r.service, 0) + r.amount
        month = local(r.created_at).strftime("%Y-%m")
        per_month[month] = per_month.get(month, 0) + r.amount
    held = db.session.scalar(
        select(func.coalesce(func.sum(VoucherRedemption.amount), 0)).join(Voucher).join(VoucherBatch)
        .where(VoucherBatch.issuer_organization_id == user.organization_id, VoucherRedemption.status == "held"))
    return {"rows": rows, "per_sme": per_sme, "per_service": per_service, "per_month": per_month,
            "total": sum(r.amount for r in booked), "settled": sum(r.amount for r in booked if r.settled_at),
            "held": int(held or 0)}


def report_csv(data):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["redemption_id", "date", "programme", "sme", "uscc", "service", "amount_fen", "charge_id",
                     "settled", "settlement_reference", "status", "deal_id"])
    for r in data["rows"]:
        sme = r.voucher.organization
        writer.writerow([r.id, local(r.created_at).date().isoformat(), _csv(r.voucher.batch.programme),
                         _csv(sme.name), sme.uscc, r.service, r.amount, r.charge_id, "yes" if r.settled_at else "no",
                         _csv(r.settlement_reference or ""), r.status, r.charge.deal_id or ""])
    return out.getvalue()


def _csv(text):
    """No formula injection in a spreadsheet: a cell starting with = + - @ is quoted with an apostrophe."""
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def totals_in_ledger(issuer_organization_id):
    """What the ledger says a programme owes and has paid (for the invariant)."""
    def bal(code):
        return int(db.session.scalar(select(func.coalesce(func.sum(Posting.amount), 0)).join(
            LedgerAccount, LedgerAccount.id == Posting.account_id).where(LedgerAccount.code == code)) or 0)

    return {"due": -bal(VOUCHER_DUE + str(issuer_organization_id)),
            "paid": -bal(VOUCHER_PAID + str(issuer_organization_id))}


def due_charges(limit=200):
    """Service charges (not deals' fees, which the escrow pays) still due: the operators' transfer queue."""
    return list(db.session.scalars(select(ServiceCharge).where(
        ServiceCharge.status == "due", ServiceCharge.deal_id.is_(None)).order_by(ServiceCharge.id).limit(limit)))


def unsettled_by_programme():
    """Per issuing organisation: how many booked uses it has not reimbursed yet, and their sum (fen)."""
    rows = db.session.execute(
        select(VoucherBatch.issuer_organization_id, func.count(VoucherRedemption.id),
               func.sum(VoucherRedemption.amount))
        .select_from(VoucherRedemption).join(Voucher).join(VoucherBatch)
        .where(VoucherRedemption.status == "booked", VoucherRedemption.settled_at.is_(None))
        .group_by(VoucherBatch.issuer_organization_id).order_by(VoucherBatch.issuer_organization_id))
    return [{"organization": db.session.get(Organization, org_id), "count": int(count), "amount": int(total)}
            for org_id, count, total in rows]
