"""Valuation by the income method (收益法), for one right or a portfolio.

    value = Σ_{t=1..n}  R_t × r ÷ (1 + i)^t

R_t: the revenue attributable to the IP in year t (fen); r: the royalty or contribution rate
(提成率 / 分成率); i: the discount rate (折现率); n: the remaining economic life in whole years,
at most the rights' remaining legal term (a part year counts as a year) and at most MAX_LIFE.
The sum is computed with Decimal at 40 significant digits and rounded once, at the end, to whole
fen, half up (ROUND_HALF_UP). See docs/finance.md.
"""
import warnings
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, localcontext

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select

from escrow.models import Deal
from listings import register
from listings.models import Listing, with_rights
from marketplace.kernel import audit
from marketplace.kernel.errors import Conflict, NotFound, PermissionDenied, ValidationError
from marketplace.kernel.extensions import db
from marketplace.kernel.numbers import NumberError, parse_decimal, parse_int
from marketplace.kernel.timeutil import iso, local, utcnow

from .access import db_id, is_bank, is_valuer, same_side  # noqa: F401  (same_side: the pages ask it too)
from .models import LoanApplication, ServiceCharge, Valuation, ValuationRight

MAX_LIFE = 30
MAX_RIGHTS = 20
MAX_REVENUE = 10**13  # fen per year (¥1,000 亿)
MAX_NOTE = 2000
MAX_NUMBER = 40  # a right's application or registration number
MAX_RATE_TEXT = 12  # a rate as text ("12.5"): the column's width
MIN_COMPARABLES = 3  # fewer completed comparable deals than this: the cross-check shows no prices
SENSITIVITY_POINTS = (Decimal("-2"), Decimal("0"), Decimal("2"))  # discount rate, percentage points
SENSITIVITY_FACTORS = (Decimal("0.8"), Decimal("1"), Decimal("1.2"))  # royalty rate × factor (±20 %)
COMPARABLE_STATES = ("released", "completed")
REVIEW_FEE_DEFAULT = 2000_00


def present_value(revenues, royalty_rate, discount_rate):
    """The value in fen (int) of yearly ``revenues`` (fen) at ``royalty_rate`` and ``discount_rate``
    (Decimal percent, 0 < rate ≤ 100 and 0 < discount < 100 for meaningful input)."""
    with localcontext() as ctx:
        ctx.prec = 40
        r = Decimal(royalty_rate) / 100
        factor = 1 + Decimal(discount_rate) / 100
        total = Decimal(0)
        discount = Decimal(1)
        for revenue in revenues:
            discount *= factor
            total += Decimal(revenue) * r / discount
        return int(total.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def sensitivity(revenues, royalty_rate, discount_rate):
    """3 × 3 table: discount rate −2, 0, +2 points (rows) × royalty rate −20 %, 0, +20 % (columns).
    A cell whose rates leave the allowed range (discount ≤ 0 or ≥ 100, royalty > 100) is None."""
    rows = []
    for points in SENSITIVITY_POINTS:
        d = Decimal(discount_rate) + points
        cells = []
        for f in SENSITIVITY_FACTORS:
            r = Decimal(royalty_rate) * f
            ok = Decimal(0) < d < Decimal(100) and Decimal(0) < r <= Decimal(100)
            cells.append({"royalty_rate": _pct(r), "value": present_value(revenues, r, d) if ok else None})
        rows.append({"discount_rate": _pct(d), "cells": cells})
    return {"discount_points": [str(p) for p in SENSITIVITY_POINTS],
            "royalty_factors": [str(f) for f in SENSITIVITY_FACTORS], "rows": rows}


def _pct(value):
    text = format(Decimal(value).normalize(), "f")
    return text


# --- input ------------------------------------------------------------------------------------

def _rate(raw, key, fields, *, upper_inclusive):
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        fields[key] = _("必填")
        return None
    try:
        value = parse_decimal(raw if isinstance(raw, str) else str(raw), max_digits=3, max_decimals=4)
    except NumberError as exc:
        fields[key] = str(exc)
        return None
    if value <= 0 or value > 100 or (value == 100 and not upper_inclusive):
        fields[key] = (_("应大于 0 且不超过 100（%）") if upper_inclusive else _("应大于 0 且小于 100（%）"))
        return None
    return value


def remaining_years(right, today):
    """Whole years (a part year counts) from ``today`` to the end of the right's legal term, or None."""
    end = right.term_end()
    if end is None:
        return None
    if end <= today:
        return 0
    full = end.year - today.year - ((end.month, end.day) < (today.month, today.day))
    return full + (1 if _add_years(today, full) < end else 0)


def _add_years(day, years):
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def clean(data, user, today):
    """Check a valuation's input; return (rights, revenues, royalty, discount, life, note) or raise
    ValidationError naming every bad field. Nothing is written."""
    fields = {}
    if not isinstance(data, dict):
        raise ValidationError(_("请求体必须是 JSON 对象"), {"body": "expected an object"})
    raw_rights = data.get("rights")
    rights = []
    if not isinstance(raw_rights, list) or not raw_rights:
        fields["rights"] = _("至少选择一项权利")
    elif len(raw_rights) > MAX_RIGHTS:
        fields["rights"] = _("最多 %(n)s 项权利", n=MAX_RIGHTS)
    else:
        party = register.party_of(user)
        for i, item in enumerate(raw_rights):
            kind = item.get("kind") if isinstance(item, dict) else None
            number = item.get("number") if isinstance(item, dict) else None
            if kind not in ("patent", "trademark") or not isinstance(number, str) or len(number) > MAX_NUMBER:
                fields[f"rights[{i}]"] = _("应为 {kind: patent|trademark, number}")
                continue
            right = register.find(kind, number)
            if right is None:
                fields[f"rights[{i}]"] = _("登记簿中没有该权利")
            elif not register.is_holder(right, party["organization_id"], party["user_id"]):
                fields[f"rights[{i}]"] = _("您（或贵单位）不是 %(number)s 的权利人", number=right.number)
            elif right in rights:
                fields[f"rights[{i}]"] = _("重复的权利")
            else:
                rights.append(right)
    royalty = _rate(data.get("royalty_rate"), "royalty_rate", fields, upper_inclusive=True)
    discount = _rate(data.get("discount_rate"), "discount_rate", fields, upper_inclusive=False)
    life = None
    try:
        life = parse_int(data.get("life_years") if data.get("life_years") is not None else "", minimum=1,
                         maximum=MAX_LIFE, max_digits=3)
    except NumberError as exc:
        fields["life_years"] = str(exc) if data.get("life_years") is not None else _("必填")
    if rights and life is not None:
        terms = [remaining_years(r, today) for r in rights]
        if any(t is None for t in terms):
            fields["rights"] = _("登记簿中缺少保护期（申请日与专利类型，或注册日），无法确定剩余经济寿命上限")
        else:
            bound = max(terms)
            if bound == 0:
                fields["rights"] = _("权利的保护期已届满")
            elif life > bound:
                fields["life_years"] = _("剩余经济寿命不能超过权利的剩余保护期（%(n)s 年）", n=bound)
    revenues = data.get("revenues")
    cleaned = []
    if not isinstance(revenues, list) or not revenues:
        fields["revenues"] = _("请逐年填写归属于该知识产权的预期收入")
    elif len(revenues) > MAX_LIFE:
        fields["revenues"] = _("最多 %(n)s 年", n=MAX_LIFE)
    else:
        for i, raw in enumerate(revenues):
            try:
                value = parse_int(raw, max_digits=14)
            except NumberError as exc:
                fields[f"revenues[{i}]"] = str(exc)
                continue
            if value < 0:
                fields[f"revenues[{i}]"] = _("收入不能为负数")
            elif value > MAX_REVENUE:
                fields[f"revenues[{i}]"] = _("收入过大")
            else:
                cleaned.append(value)
        if life is not None and "revenues" not in fields and len(revenues) != life:
            fields["revenues"] = _("应逐年填写 %(n)s 年的收入（与剩余经济寿命一致）", n=life)
    note = data.get("note") or ""
    if not isinstance(note, str) or len(note) > MAX_NOTE:
        fields["note"] = _("最多 %(n)s 个字符", n=MAX_NOTE)
    if fields:
        raise ValidationError(_("估值输入有误"), fields)
    return rights, cleaned, royalty, discount, life, note.strip()


# --- market cross-check -----------------------------------------------------------------------

def _keys(right):
    if right.kind == "patent":
        return {("ipc", c.replace(" ", "")[:4]) for c in (right.ipc_codes or []) if isinstance(c, str) and c}
    return {("nice", int(n)) for n in (right.nice_classes or []) if isinstance(n, int)}


def comparables(rights):
    """Completed platform deals whose rights share an IPC subclass or a Nice class with ``rights``.
    Prices are shown (count, median, low, high) only from MIN_COMPARABLES deals up."""
    keys = set().union(*(_keys(r) for r in rights)) if rights else set()
    own = {r.id for r in rights}
    prices = []
    if keys:
        deals = db.session.execute(
            select(Deal, Listing).join(Listing, Listing.id == Deal.listing_id)
            .where(Deal.state.in_(COMPARABLE_STATES), Deal.currency == "CNY")
            .options(with_rights()).order_by(Deal.id.desc()).limit(2000)).all()
        for deal, listing in deals:
            theirs = [r for r in listing.rights if r.id not in own]
            if theirs and set().union(*(_keys(r) for r in theirs)) & keys:
                prices.append(deal.price)
    labels = sorted(f"IPC {v}" if k == "ipc" else _("尼斯第 %(n)s 类", n=v) for k, v in keys)
    body = {"basis": labels, "count": len(prices), "threshold": MIN_COMPARABLES, "enough": len(prices) >= MIN_COMPARABLES}
    if body["enough"]:
        prices.sort()
        mid = len(prices) // 2
        median = prices[mid] if len(prices) % 2 else (prices[mid - 1] + prices[mid] + 1) // 2
        body.update({"median": median, "low": prices[0], "high": prices[-1]})
    return body


# --- service ----------------------------------------------------------------------------------

def create(user, data, now=None):
    """The holder's side values its rights: a self-assessment until an operator or a valuer signs it off."""
    if user is None or not (user.has_role("seller") or user.has_role("buyer")):
        raise PermissionDenied(_("只有权利人（卖家或买家账户）可以估值"))
    now = now or utcnow()
    today = local(now).date()
    rights, revenues, royalty, discount, life, note = clean(data, user, today)
    valuation = Valuation(organization_id=user.organization_id, owner_id=user.id, valuation_date=today,
                          revenues=revenues, royalty_rate=_pct(royalty), discount_rate=_pct(discount),
                          life_years=life, value=present_value(revenues, royalty, discount),
                          sensitivity=sensitivity(revenues, royalty, discount), comparables=comparables(rights),
                          note=note or None, status="self_assessment", created_at=now)
    valuation.rights = [ValuationRight(right=r, position=i) for i, r in enumerate(rights)]
    db.session.add(valuation)
    db.session.flush()
    return valuation


def can_view(user, valuation):
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if user.is_operator or same_side(user, valuation.organization_id, valuation.owner_id):
        return True
    if is_valuer(user) and valuation.status in ("review_requested", "signed_off"):
        return True
    if valuation.listing_id is not None and valuation.listing is not None and valuation.listing.status == "published":
        return True
    if is_bank(user):
        from .lending import bank_sees

        apps = db.session.scalars(select(LoanApplication).where(LoanApplication.valuation_id == valuation.id))
        return any(bank_sees(user, a) for a in apps)
    return False


def get_for(valuation_id, user):
    valuation = db.session.get(Valuation, valuation_id)
    if valuation is None or not can_view(user, valuation):
        raise NotFound(_("估值报告不存在"))
    return valuation


def mine(user):
    where = (Valuation.organization_id == user.organization_id) if user.organization_id is not None else (
        (Valuation.organization_id.is_(None)) & (Valuation.owner_id == user.id))
    return list(db.session.scalars(select(Valuation).where(where).order_by(Valuation.id.desc()).limit(200)))


def _own(user, valuation_id):
    valuation = get_for(valuation_id, user)
    if not same_side(user, valuation.organization_id, valuation.owner_id):
        raise PermissionDenied(_("只有估值的权利人可以办理"))
    return valuation


def attach_to_listing(user, valuation_id, listing_id):
    """Attach the report to one of the holder side's listings (None detaches): then whoever sees the
    published listing may read the report."""
    from listings.models import Listing

    valuation = _own(user, valuation_id)
    if listing_id is None:
        valuation.listing_id = None
        db.session.flush()
        return valuation
    listing = db.session.get(Listing, db_id(listing_id)) if db_id(listing_id) else None
    if listing is None or not same_side(user, listing.organization_id, listing.seller_id):
        raise ValidationError(_("只能附在本单位（本人）的挂牌上"), {"listing_id": _("不是您的挂牌")})
    valuation.listing_id = listing.id
    db.session.flush()
    return valuation


def review_fee():
    return int(current_app.config.get("FINANCE_REVIEW_FEE", REVIEW_FEE_DEFAULT))


def request_review(user, valuation_id, now=None):
    """Ask an operator or a registered valuer to sign the report off: the review fee falls due (vouchers
    and a bank transfer pay it, ``finance.vouchers``)."""
    valuation = _own(user, valuation_id)
    if valuation.status != "self_assessment":
        raise Conflict(_("该估值已申请复核或已签署"), status=valuation.status)
    if valuation.organization_id is None:
        raise PermissionDenied(_("复核费由单位支付：自然人暂不能申请复核"))
    valuation.status = "review_requested"
    charge = ServiceCharge(organization_id=valuation.organization_id, service="valuation_review",
                           valuation_id=valuation.id, amount=review_fee(), created_at=now or utcnow())
    db.session.add(charge)
    db.session.flush()
    return valuation


def review_charge(valuation):
    return db.session.scalar(select(ServiceCharge).where(ServiceCharge.valuation_id == valuation.id,
                                                         ServiceCharge.service == "valuation_review"))


def sign_off(user, valuation_id, note, now=None):
    """An operator or a registered valuer signs the report off (the review fee paid); not their own side's."""
    valuation = db.session.get(Valuation, valuation_id)
    if valuation is None or not can_view(user, valuation):
        raise NotFound(_("估值报告不存在"))
    if not (user.is_operator or is_valuer(user)):
        raise PermissionDenied(_("只有运营人员或注册评估师可以签署估值报告"))
    if same_side(user, valuation.organization_id, valuation.owner_id):
        raise PermissionDenied(_("不能签署本单位（本人）的估值"))
    if valuation.status != "review_requested":
        raise Conflict(_("该估值未申请复核，或已签署"), status=valuation.status)
    charge = review_charge(valuation)
    if charge is None or charge.status != "paid":
        raise Conflict(_("复核费尚未付清"))
    note = (note or "").strip() if isinstance(note, str) else ""
    if len(note) < 2 or len(note) > MAX_NOTE:
        raise ValidationError(_("请写明复核意见"), {"note": _("2 至 %(n)s 个字符", n=MAX_NOTE)})
    now = now or utcnow()
    valuation.status, valuation.signed_by_id, valuation.signed_at, valuation.sign_note = "signed_off", user.id, now, note
    valuation.signer_role = "operator" if user.is_operator else "valuer"
    audit.record(user, "valuation.sign_off", "valuation", valuation.id, before={"status": "review_requested"},
                 after={"status": "signed_off", "note": note})
    db.session.flush()
    return valuation


def review_queue():
    return list(db.session.scalars(select(Valuation).where(Valuation.status == "review_requested")
                                   .order_by(Valuation.id).limit(200)))


# --- presentation -------------------------------------------------------------------------------

def formula_rows(valuation):
    """Each year's term of the sum, for the report: (t, R_t, discount factor, present value, fen)."""
    rows = []
    with localcontext() as ctx:
        ctx.prec = 40
        r = Decimal(valuation.royalty_rate) / 100
        factor = 1 + Decimal(valuation.discount_rate) / 100
        for t, revenue in enumerate(valuation.revenues, start=1):
            df = 1 / factor ** t
            rows.append({"year": t, "revenue": revenue, "contribution": Decimal(revenue) * r,
                         "factor": df.quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP),
                         "present": (Decimal(revenue) * r * df).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)})
    return rows


def valuation_json(valuation):
    return {
        "id": valuation.id, "valuation_date": valuation.valuation_date.isoformat(),
        "rights": [{"kind": link.right.kind, "number": link.right.number, "title": link.right.title}
                   for link in valuation.rights],
        "revenues": list(valuation.revenues), "royalty_rate": valuation.royalty_rate,
        "discount_rate": valuation.discount_rate, "life_years": valuation.life_years, "value": valuation.value,
        "currency": "CNY", "rounding": "ROUND_HALF_UP to whole fen, once, after the sum",
        "formula": "value = sum_{t=1..n} R_t * r / (1 + i)^t",
        "sensitivity": valuation.sensitivity, "comparables": valuation.comparables,
        "status": valuation.status, "self_assessment": valuation.status != "signed_off",
        "signer_role": valuation.signer_role, "signed_at": iso(valuation.signed_at),
        "sign_note": valuation.sign_note, "listing_id": valuation.listing_id, "note": valuation.note,
        "created_at": iso(valuation.created_at), "pdf_url": f"/api/v1/finance/valuations/{valuation.id}.pdf",
    }


def pdf(valuation):
    """The report as PDF (WeasyPrint), as escrow.contracts renders the contract."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ImportWarning)
        from weasyprint import HTML

    with force_locale("zh_CN"):
        page = current_app.jinja_env.get_template("finance/valuation_pdf.html").render(
            v=valuation, rows=formula_rows(valuation), today=date.today())
    return HTML(string=page, base_url=None).write_pdf()

