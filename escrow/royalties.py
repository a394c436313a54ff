"""Licences as products (issue 16): royalty structures for any licence deal, the licence's life, and the
royalty periods paid through escrow. docs/trading.md "Open licences and royalties".

A licence deal (``Deal`` with a licence ``deal_type``) has one ``Licence``: its dates, territory, field,
sublicensing yes/no, and its royalty structure:

- **upfront fee (入门费)**: the deal's own price, paid as any deal (contract, escrow, recordal, release);
- **running royalty (提成)**: ``royalty_bps`` of the licensee's reported net sales per period (quarter or
  year), with an optional **yearly minimum**: the last period of each licence year tops the year up to it;
- **instalments**: fixed amounts on fixed dates (an open licence at a fixed fee per year: years 2…N).

Each period after the upfront fee is a ``RoyaltyPeriod`` paid through escrow like any other payment::

    fund      gateway_clearing:offline -A    royalty_escrow +A                                royalty:{id}:fund
    release   royalty_escrow -A              seller_payable +(A-F)   platform_revenue +F      royalty:{id}:release
    payout    seller_payable -(A-F)          seller_payouts +(A-F)                            royalty:{id}:payout

(F = ``escrow.fees.platform_fee(A, deal.fee_bps)``: the deal's own rate, half a fen rounded up.)

**Amounts, in integer fen.** A period's royalty is ``net_sales × bps / 10000`` rounded half-up (an exact half
fen goes up), as the platform fee is. Within a licence year, what is due for a period is the year's royalty so
far, less what the year's earlier periods were due (and, for an open licence at a percentage, less the upfront
fee, which is the first year's minimum paid in advance); in the year's last period the year's total is at least
the yearly minimum. Never negative.

Statuses of a period: ``open`` (running: waiting for the report) → ``awaiting_payment`` (reported, or an
instalment) → ``held`` (paid into escrow) → ``released`` (the licensor accepted it, or ``ROYALTY_HOLD_DAYS``
passed) → ``paid_out``. A report with nothing due is ``settled``.

Deadlines (``run_royalty_deadlines``, from ``flask deadlines run``): licences start when their deal is funded
and end at ``ends_on`` (the register's licence encumbrance ends with them); the CNIPA licence recordal
(备案, 3 months from the contract) is reminded to both parties; a late report or payment is reminded, then
after ``ROYALTY_GRACE_DAYS`` becomes a credit record (``marketplace.kernel.credit.record_system_finding``).
"""
from datetime import date, timedelta

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from listings import open_licence, register
from listings.models import Encumbrance, OpenLicence
from listings.models.register import _add_months
from listings.open_licence import MAX_BPS, PERIODS
from listings.vocab import MAX_PRICE
from marketplace.kernel import audit
from marketplace.kernel.credit import record_system_finding
from marketplace.kernel.errors import Conflict, NotFound, PermissionDenied, ValidationError
from marketplace.kernel.extensions import db
from marketplace.kernel.i18n import N_
from marketplace.kernel.messages import label, money, msg, render
from marketplace.kernel.models import User
from marketplace.kernel.notify import notify
from marketplace.kernel.reports import MIN_CELL
from marketplace.kernel.timeutil import iso, local, utcnow
from marketplace.kernel.uploads import save_upload

from . import ledger, references
from .fees import platform_fee
from .ledger import Leg
from .royalty_models import Licence, RoyaltyPeriod

REFERENCE_PREFIX = "IPR"  # bank memo for a royalty period: IPR + period id + check digits
REPORT_DAYS = 30  # a running period is reported within 30 days of its end
PAY_DAYS = 15  # and paid within 15 days of the report
RECORDAL_MONTHS = 3  # 专利实施许可合同备案: within three months of the contract taking effect
RECORDAL_REMINDER_DAYS = 30
MAX_PERIODS = 400  # a licence of at most 100 years of quarters: bounded work
MAX_INSTALMENTS = 60
MAX_REPORT_NOTE = 500
REFERENCE_LENGTH = (4, 100)  # a bank transfer's reference (流水号)
LICENCE_OF_DEAL = {"exclusive_license": "exclusive", "sole_license": "sole", "non_exclusive_license": "non_exclusive"}
PERIOD_MSGIDS = {"quarter": N_("每季度"), "year": N_("每年")}
PERIOD_LABELS = {code: _l(text) for code, text in PERIOD_MSGIDS.items()}
STATUS_LABELS = {"open": _l("待报告"), "awaiting_payment": _l("待付款"), "held": _l("已付款（托管中）"),
                 "released": _l("已放款给许可方"), "paid_out": _l("已付给许可方"), "settled": _l("无应付款")}
LICENCE_STATUS_LABELS = {"pending": _l("待生效（交易付款后生效）"), "active": _l("有效"), "ended": _l("已终止"),
                         "void": _l("未生效（交易已取消或退款）")}


class RoyaltyConflict(Conflict):
    code = "royalty_conflict"


# --- amounts ---------------------------------------------------------------------------------

def royalty_of(net_sales, bps):
    """The running royalty on ``net_sales`` fen at ``bps`` basis points: half a fen rounds up."""
    return (net_sales * bps + 5_000) // 10_000


def _running_in_year(licence, year):
    return [p for p in licence.periods if p.kind == "running" and p.licence_year == year]


def due_for(licence, period, net_sales):
    """What the licensee owes for ``period`` reporting ``net_sales`` (see the module doc)."""
    year = _running_in_year(licence, period.licence_year)
    earlier = [p for p in year if p.seq < period.seq]
    so_far = sum(royalty_of(p.net_sales or 0, licence.royalty_bps) for p in earlier) + royalty_of(
        net_sales, licence.royalty_bps)
    paid = sum(p.amount or 0 for p in earlier)
    if licence.advance_credit and period.licence_year == 1:
        paid += licence.upfront_fee
    target = so_far
    if licence.yearly_minimum and period.seq == max(p.seq for p in year):
        target = max(so_far, licence.yearly_minimum)
    return max(0, target - paid)


# --- terms ----------------------------------------------------------------------------------------

def _int(value, name, fields, minimum, maximum, message):
    if value is None or value == "":
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        fields[name] = _("必须是整数")
        return None
    if not minimum <= value <= maximum:
        fields[name] = message
        return None
    return value


def clean_terms(data, *, upfront_fee):
    """A licence deal's royalty structure from API/form input; raises ValidationError naming each field.

    ``royalty_bps`` 1–10000 (0.01 %–100 %), ``period`` quarter|year, ``yearly_minimum`` fen, ``instalments``
    [{due_on, amount}], ``sublicensing`` bool. Nothing is stored here."""
    if not isinstance(data, dict):
        raise ValidationError(_("许可费条款须为对象"), {"body": "expected an object"})
    fields = {}  # an unknown key: the API's schema refuses it (escrow/licensing_schemas.py); a form sends none
    bps = _int(data.get("royalty_bps"), "royalty_bps", fields, 1, MAX_BPS,
               _("提成比例须在 0–100% 之间（以万分之一计：1–10000）"))
    period = data.get("period") or None
    if period is not None and period not in PERIODS:
        fields["period"] = _("报告周期应为 quarter（季度）或 year（年）")
    minimum = _int(data.get("yearly_minimum"), "yearly_minimum", fields, 1, MAX_PRICE, _("年度最低许可费超出范围"))
    if bps is None and "royalty_bps" not in fields:
        if minimum is not None:
            fields["yearly_minimum"] = _("年度最低许可费须与提成比例一同约定")
        if period is not None:
            fields["period"] = _("报告周期须与提成比例一同约定")
    elif bps is not None and period is None and "period" not in fields:
        fields["period"] = _("必填：quarter（季度）或 year（年）")
    sub = data.get("sublicensing")
    sub = False if sub is None else sub  # null: not given, as for every optional key
    if not isinstance(sub, bool):
        fields["sublicensing"] = _("应为 true 或 false")
    instalments = data.get("instalments") or []
    cleaned = []
    if not isinstance(instalments, list) or len(instalments) > MAX_INSTALMENTS:
        fields["instalments"] = _("分期付款须为列表，最多 %(n)s 期", n=MAX_INSTALMENTS)
    else:
        for i, item in enumerate(instalments):
            if not isinstance(item, dict):
                fields[f"instalments[{i}]"] = _("每期须含 due_on 和 amount")
                continue
            try:
                due = date.fromisoformat(item.get("due_on")) if isinstance(item.get("due_on"), str) else None
            except ValueError:
                due = None
            if due is None:
                fields[f"instalments[{i}].due_on"] = _("日期格式应为 YYYY-MM-DD")
            amount = _int(item.get("amount"), f"instalments[{i}].amount", fields, 1, MAX_PRICE,
                          _("金额（分）须为正整数"))
            if item.get("amount") is None:
                fields[f"instalments[{i}].amount"] = _("必填")
            if due is not None and amount is not None:
                cleaned.append({"due_on": due.isoformat(), "amount": amount})
    if fields:
        raise ValidationError(_("许可费条款有误"), fields)
    cleaned.sort(key=lambda x: x["due_on"])
    return {"royalty_bps": bps, "period": period if bps else None, "yearly_minimum": minimum,
            "instalments": cleaned or None, "sublicensing": sub, "upfront_fee": upfront_fee}


# --- licences ---------------------------------------------------------------------------------------

def licence_of(deal):
    return db.session.scalar(select(Licence).where(Licence.deal_id == deal.id))


def _contract_day(deal):
    from .contracts import signature_of

    signed = [s.signed_at for s in (signature_of(deal, "buyer"), signature_of(deal, "seller")) if s is not None]
    return local(max(signed) if len(signed) == 2 else deal.created_at).date()


def create_licence(deal, *, open_licence=None, terms=None, now=None):
    """The licence of a licence deal (once), with ``terms`` from ``clean_terms`` (None: the upfront fee only)."""
    if deal.deal_type not in LICENCE_OF_DEAL:
        raise Conflict(_("转让交易没有许可条款"))
    existing = licence_of(deal)
    if existing is not None:
        return existing
    now = now or utcnow()
    terms = terms or {"upfront_fee": deal.price}
    licence = Licence(deal_id=deal.id, open_licence_id=getattr(open_licence, "id", None), licensor_id=deal.seller_id,
                      licensee_id=deal.buyer_id, licence_type=LICENCE_OF_DEAL[deal.deal_type],
                      starts_on=deal.license_start, ends_on=_last_day(deal.license_start, deal.license_end),
                      territory=deal.license_territory,
                      field=deal.license_field, created_at=now,
                      recordal_due_on=_add_months(local(deal.created_at).date(), RECORDAL_MONTHS))
    _apply_terms(licence, terms)
    db.session.add(licence)
    db.session.flush()
    return licence


def _last_day(start, end):
    """The licence's last day: a term of whole years from ``start`` ends the day before its anniversary (a
    three-year licence from 2026-12-05 runs to 2029-12-04, twelve whole quarters), any other end as given."""
    if end > start and (end.month, end.day) == (start.month, start.day):
        return end - timedelta(days=1)
    return end


def _apply_terms(licence, terms):
    licence.upfront_fee = terms["upfront_fee"]
    licence.advance_credit = bool(terms.get("advance_credit"))
    licence.royalty_bps = terms.get("royalty_bps")
    licence.period = terms.get("period")
    licence.yearly_minimum = terms.get("yearly_minimum")
    licence.instalments = terms.get("instalments")
    licence.sublicensing = bool(terms.get("sublicensing"))


def licence_for(deal):
    """The deal's licence, created (upfront fee only) for a licence deal opened without one."""
    return licence_of(deal) or create_licence(deal)


def set_terms(deal_id, actor, data, now=None):
    """The licensor sets a negotiated licence deal's royalty structure, before anyone signs the contract (the
    contract states it). Refused: not the seller (403), an open licence's deal (its terms are published), a
    signed contract or a deal past ``awaiting_payment`` (409), bad terms (422). The contract is re-rendered."""
    from . import contracts
    from .deals import lock_deal, roles_of

    now = now or utcnow()
    deal = lock_deal(deal_id)
    roles = roles_of(deal, actor)
    if not roles:
        raise NotFound(_("交易不存在"))
    if "seller" not in roles:
        raise PermissionDenied(_("只有许可方（卖方）可以约定许可费条款"))
    if deal.deal_type not in LICENCE_OF_DEAL:
        raise RoyaltyConflict(_("转让交易没有许可费条款"))
    if deal.source == "open_licence":
        raise RoyaltyConflict(_("开放许可按公告的条件实施，不能另行约定"))
    if deal.state != "awaiting_payment" or contracts.signed_roles(deal):
        raise RoyaltyConflict(_("合同已有一方签署（或交易已付款），许可费条款不能再改"), state=deal.state)
    terms = clean_terms(data, upfront_fee=deal.price)
    licence = licence_for(deal)
    _apply_terms(licence, terms)
    refreeze_contract(deal)
    from .deals import _record

    _record(deal, "royalty_terms", deal.state, actor, now, note=terms_message(licence))
    return licence


def refreeze_contract(deal):
    """Re-render the unsigned contract so that it states the licence's royalty terms."""
    from . import contracts

    contract = contracts.contract_of(deal)
    if contracts.signed_roles(deal):
        return contract
    db.session.flush()
    html = contracts.render_document(deal)
    contract.html = html
    contract.text = contracts.canonical_text(html)
    contract.sha256 = contracts.sha256_of(contract.text)
    db.session.flush()
    return contract


def terms_message(licence):
    """The royalty structure in one sentence, as a message (``marketplace.kernel.messages``): stored in the deal's
    history and notifications, shown in the reader's language."""
    currency = licence.deal.currency if licence.deal is not None else "CNY"
    parts = [msg(N_("入门费 %(fee)s"), fee=money(licence.upfront_fee or 0, currency))]
    if licence.royalty_bps:
        parts.append(msg(N_("提成为净销售额的 %(pct)s，%(period)s报告并支付"), pct=percent(licence.royalty_bps),
                         period=label(PERIOD_MSGIDS[licence.period])))
        if licence.yearly_minimum:
            parts.append(msg(N_("每个许可年度最低 %(min)s"), min=money(licence.yearly_minimum, currency)))
        if licence.advance_credit:
            parts.append(msg(N_("入门费即第一年度最低许可费，预付并冲抵第一年度提成")))
    for item in licence.instalments or []:
        parts.append(msg(N_("%(due)s 支付 %(amount)s"), due=item["due_on"], amount=money(int(item["amount"]), currency)))
    parts.append(msg(N_("可以分许可") if licence.sublicensing else N_("不得分许可")))
    return msg("%(terms)s", terms=parts)


def terms_text(licence):
    """The royalty structure in one sentence in the reader's language (contract, pages)."""
    return render(terms_message(licence))


def percent(bps):
    return f"{bps / 100:.2f}".rstrip("0").rstrip(".") + "%"


def contract_terms(deal):
    """The royalty clause's values for the contract template (None: no licence terms beyond the price)."""
    if deal.deal_type not in LICENCE_OF_DEAL or deal.id is None:
        return None
    licence = licence_of(deal)
    if licence is None:
        return None
    return {"text": terms_text(licence), "recordal_months": RECORDAL_MONTHS, "report_days": REPORT_DAYS,
            "pay_days": PAY_DAYS, "open_licence": licence.open_licence_id is not None}


# --- the schedule -------------------------------------------------------------------------------------

def schedule(licence):
    """The periods after the upfront fee: [dict(kind, starts_on, ends_on, due_on, licence_year, amount)]."""
    out = []
    start, end = licence.starts_on, licence.ends_on
    if licence.royalty_bps:
        step = 3 if licence.period == "quarter" else 12
        k = 0
        while len(out) < MAX_PERIODS:
            p_start = _add_months(start, k * step)
            if p_start > end:
                break
            p_end = min(_add_months(start, (k + 1) * step) - timedelta(days=1), end)
            out.append({"kind": "running", "starts_on": p_start, "ends_on": p_end,
                        "due_on": p_end + timedelta(days=REPORT_DAYS), "licence_year": k * step // 12 + 1,
                        "amount": None})
            k += 1
    for item in licence.instalments or []:
        due = date.fromisoformat(item["due_on"])
        months = (due.year - start.year) * 12 + due.month - start.month - (1 if due.day < start.day else 0)
        out.append({"kind": "instalment", "starts_on": due, "ends_on": due, "due_on": due,
                    "licence_year": max(0, months) // 12 + 1, "amount": item["amount"]})
    return out


def activate(licence, now):
    """The deal was paid: the licence is in force and its periods are laid out (once)."""
    if licence.status != "pending":
        return False
    deal = licence.deal
    licence.status, licence.activated_at = "active", now
    for seq, row in enumerate(schedule(licence), start=1):
        period = RoyaltyPeriod(licence_id=licence.id, seq=seq, currency=deal.currency, created_at=now, **row)
        if row["kind"] == "instalment":
            period.status = "awaiting_payment"
            period.fee = platform_fee(row["amount"], deal.fee_bps)
            period.payment_due_on = row["due_on"]
        db.session.add(period)
        db.session.flush()
        if row["kind"] == "instalment":
            period.payment_reference = references.payment_reference(period.id, prefix=REFERENCE_PREFIX)
    db.session.flush()
    db.session.expire(licence, ["periods"])
    _tell_both(licence, msg(N_("许可已生效")), msg(N_("许可合同 %(terms)s。请在 %(due)s 前向国家知识产权局办理专利实施许可合同备案。"), terms=terms_message(licence), due=licence.recordal_due_on.isoformat()))
    return True


def sync(licence, now=None):
    """Bring the licence in line with its deal and the date: start, void, or end. Returns what changed."""
    now = now or utcnow()
    deal = licence.deal
    today = local(now).date()
    if licence.status == "pending":
        if deal.state in ("cancelled", "refunded"):
            licence.status, licence.ended_at, licence.ended_reason = "void", now, _("交易已取消或退款")
            return "void"
        if deal.funded_at is not None and deal.state not in ("cancelled", "refunded", "transfer_back", "disputed"):
            activate(licence, now)
            return "activated"
    elif licence.status == "active":
        if deal.state == "refunded":
            end_licence(licence, _("交易已退款"), now)
            return "ended"
        if today > licence.ends_on:
            end_licence(licence, _("许可期限届满"), now)
            return "ended"
    return None


def end_licence(licence, reason, now):
    """The licence ends: the register's licence encumbrance made by its deal ends with it (once)."""
    if licence.status == "ended":
        return
    licence.status, licence.ended_at, licence.ended_reason = "ended", now, reason[:200]
    encumbrances = db.session.scalars(select(Encumbrance).where(Encumbrance.deal_id == licence.deal_id,
                                                                Encumbrance.kind == "licence",
                                                                Encumbrance.ended_at.is_(None))).all()
    for enc in encumbrances:
        enc.ended_at, enc.ended_reason = now, reason[:200]
        register.record(enc.right, "licence_ended", {"encumbrance_id": enc.id, "reason": reason}, source="system",
                        deal=licence.deal, now=now)
    db.session.flush()
    _tell_both(licence, msg(N_("许可已终止")), reason)


# --- who ----------------------------------------------------------------------------------------------

def roles_on(licence, user):
    from .deals import roles_of

    return roles_of(licence.deal, user) if user is not None else set()


def get_licence_for(licence_id, user):
    licence = db.session.get(Licence, licence_id) if isinstance(licence_id, int) else None
    if licence is None or not roles_on(licence, user):
        raise NotFound(_("许可不存在"))
    return licence


def licences_of(user):
    """Licences ``user`` granted (as the deal's seller) or holds (as its buyer), newest first."""
    return db.session.scalars(select(Licence).where(
        (Licence.licensor_id == user.id) | (Licence.licensee_id == user.id)).order_by(Licence.id.desc())).all()


def _lock_period(licence_id, period_id, user):
    """(licence, period, roles) with the licence's deal row locked (serialises every act on the licence)."""
    from .deals import lock_deal

    licence = get_licence_for(licence_id, user) if user is not None else db.session.get(Licence, licence_id)
    if licence is None:
        raise NotFound(_("许可不存在"))
    lock_deal(licence.deal_id)
    db.session.refresh(licence)
    period = db.session.get(RoyaltyPeriod, period_id, populate_existing=True) if isinstance(period_id, int) else None
    if period is None or period.licence_id != licence.id:
        raise NotFound(_("许可费期次不存在"))
    return licence, period, roles_on(licence, user) if user is not None else {"system"}


def _tell_both(licence, title, body=""):
    for user_id in (licence.licensor_id, licence.licensee_id):
        notify(user_id, "deal", msg(N_("许可 #%(id)s：%(title)s"), id=licence.id, title=title), body,
               link=f"/licences/{licence.id}", email=True)


def _tell(user_id, licence, title, body=""):
    notify(user_id, "deal", msg(N_("许可 #%(id)s：%(title)s"), id=licence.id, title=title), body,
           link=f"/licences/{licence.id}", email=True)


# --- reporting and paying ------------------------------------------------------------------------------

def report(licence_id, period_id, actor, net_sales, *, attachment=None, note=None, now=None):
    """The licensee reports a running period's net sales; the amount due is computed and stored.

    Refused with nothing stored: not the licensee (403), a licence not in force, a period not yet ended, a
    period already reported, an earlier period not yet reported (409), a figure that is not a whole number of
    fen from 0 to 10¹⁴ (422), a note over 500 characters or a bad attachment (422)."""
    now = now or utcnow()
    licence, period, roles = _lock_period(licence_id, period_id, actor)
    if "buyer" not in roles:
        raise PermissionDenied(_("只有被许可方可以报告销售额"))
    sync(licence, now)
    if licence.status not in ("active", "ended"):  # an ended licence's last periods are still reported and paid
        raise RoyaltyConflict(_("许可尚未生效（%(status)s），不能报告",
                                status=str(LICENCE_STATUS_LABELS[licence.status])), status=licence.status)
    if period.kind != "running":
        raise RoyaltyConflict(_("分期付款无需报告销售额"))
    if period.status != "open":
        raise RoyaltyConflict(_("该期（%(start)s 至 %(end)s）已报告，不能重复报告", start=period.starts_on.isoformat(),
                                end=period.ends_on.isoformat()), status=period.status)
    today = local(now).date()
    if period.ends_on >= today:
        raise RoyaltyConflict(_("该期至 %(end)s 结束，结束后才能报告", end=period.ends_on.isoformat()),
                              ends_on=period.ends_on.isoformat())
    missing = [p for p in licence.periods if p.kind == "running" and p.seq < period.seq and p.status == "open"]
    if missing:
        raise RoyaltyConflict(_("请先报告 %(start)s 起的上一期", start=missing[0].starts_on.isoformat()),
                              period_id=missing[0].id)
    fields = {}
    if isinstance(net_sales, float) and net_sales.is_integer():
        net_sales = int(net_sales)
    if not isinstance(net_sales, int) or isinstance(net_sales, bool):
        fields["net_sales"] = _("净销售额须为整数（分）")
    elif not 0 <= net_sales <= MAX_PRICE:
        fields["net_sales"] = _("净销售额须在 0 至 1 万亿元之间（以分计）")
    note = note.strip() if isinstance(note, str) else None
    if note and len(note) > MAX_REPORT_NOTE:
        fields["note"] = _("最多 %(n)s 个字符", n=MAX_REPORT_NOTE)
    if fields:
        raise ValidationError(_("销售额报告有误"), fields)
    stored = None
    if attachment is not None and getattr(attachment, "filename", ""):
        stored, _kind, _size, _name = save_upload(attachment, field="attachment", area="docs")
    amount = due_for(licence, period, net_sales)
    period.net_sales, period.report_file, period.report_note = net_sales, stored, note or None
    period.reported_at, period.reported_by_id = now, actor.id
    period.amount = amount
    period.fee = platform_fee(amount, licence.deal.fee_bps)
    if amount == 0:
        period.status = "settled"
    else:
        period.status = "awaiting_payment"
        period.payment_due_on = today + timedelta(days=PAY_DAYS)
        period.payment_reference = references.payment_reference(period.id, prefix=REFERENCE_PREFIX)
    period.reminded_at = None  # a payment now due gets its own reminder
    db.session.flush()
    _tell(licence.licensor_id, licence, msg(N_("被许可方已报告销售额")),
          msg(N_("%(start)s 至 %(end)s 净销售额 %(sales)s，应付许可费 %(amount)s。"), start=period.starts_on.isoformat(), end=period.ends_on.isoformat(), sales=money(net_sales, period.currency), amount=money(amount, period.currency)))
    return period


def payment_instructions(period):
    """How the licensee pays a period: the platform's custodial account and the period's reference."""
    if period.status != "awaiting_payment":
        raise RoyaltyConflict(_("该期当前无需付款（%(status)s）", status=str(STATUS_LABELS[period.status])),
                              status=period.status)
    bank = current_app.config["PLATFORM_BANK"]
    yuan, rest = divmod(int(period.amount), 100)
    return {"gateway": "offline", "reference": period.payment_reference, "amount": period.amount,
            "currency": period.currency, "due_on": period.payment_due_on.isoformat(),
            "bank": {"account_name": bank["account_name"], "bank": bank["bank"],
                     "account_number": bank["account_number"]},
            "instructions": _("请通过对公账户向平台存管专户转账 %(amount)s 元，并在附言中填写付款参考号 %(ref)s。"
                              "平台核对到账后款项进入托管，许可方确认（或 %(days)s 天后）放款给许可方。",
                              amount=f"{yuan}.{rest:02d}", ref=period.payment_reference,
                              days=current_app.config["ROYALTY_HOLD_DAYS"])}


def _operator(actor, licence):
    roles = roles_on(licence, actor)
    if actor is None or not actor.is_operator:
        raise PermissionDenied(_("只有平台运营可以执行此操作"))
    if "operator" not in roles:
        raise PermissionDenied(_("运营人员不能处理本人作为当事人的许可"))


def confirm_payment(period_id, reference, amount, actor, now=None):
    """An operator confirms the bank transfer for a period by its reference and amount: into escrow.

    Refused with nothing booked: not an operator, or a party to the licence (403); a period not awaiting
    payment (409); a wrong reference or amount (422)."""
    now = now or utcnow()
    period = db.session.get(RoyaltyPeriod, period_id) if isinstance(period_id, int) else None
    if period is None:
        raise NotFound(_("许可费期次不存在"))
    licence, period, _roles = _lock_period(period.licence_id, period_id, None)
    _operator(actor, licence)
    if period.status != "awaiting_payment":
        raise RoyaltyConflict(_("该期当前不是待付款状态（%(status)s）", status=str(STATUS_LABELS[period.status])),
                              status=period.status)
    fields = {}
    if references.normalise(reference) != period.payment_reference:
        fields["reference"] = _("付款参考号与该期不符（应为 %(ref)s）", ref=period.payment_reference)
    if not isinstance(amount, int) or isinstance(amount, bool) or amount != period.amount:
        fields["amount"] = _("到账金额须等于应付金额 %(amount)s（分）", amount=period.amount)
    if fields:
        raise ValidationError(_("到账信息与该期不符"), fields)
    ledger.post(f"royalty:{period.id}:fund", "royalty_fund",
                [Leg(ledger.clearing_account("offline"), -period.amount), Leg("royalty_escrow", period.amount)],
                currency=period.currency, memo=_memo(licence, period, "paid"), reference=period.payment_reference,
                actor=actor, now=now)
    period.status, period.paid_at = "held", now
    audit.record(actor, "royalty.confirm_payment", "royalty_period", period.id, {"status": "awaiting_payment"},
                 {"status": "held", "amount": period.amount})
    _tell_both(licence, msg(N_("许可费已到账托管")), msg(N_("%(start)s 起一期 %(amount)s 已进入托管。"), start=period.starts_on.isoformat(), amount=money(period.amount, period.currency)))
    return period


MEMOS = {"paid": N_("许可 #%(id)s 第 %(seq)s 期许可费到账（交易 #%(deal)s）"),
         "released": N_("许可 #%(id)s 第 %(seq)s 期许可费放款（交易 #%(deal)s）"),
         "paid_out": N_("许可 #%(id)s 第 %(seq)s 期许可费付给许可方（交易 #%(deal)s）")}


def _memo(licence, period, what):
    """A royalty booking's memo (``what``: a key of ``MEMOS``), as a message."""
    return msg(MEMOS[what], id=licence.id, seq=period.seq, deal=licence.deal_id)


def release(licence_id, period_id, actor, now=None):
    """The licensor accepts a held period (or the system, ``ROYALTY_HOLD_DAYS`` after payment): the money
    goes to the licensor less the platform fee at the deal's rate. Refused: not the licensor (403), not held (409).
    """
    now = now or utcnow()
    licence, period, roles = _lock_period(licence_id, period_id, actor)
    if actor is not None and "seller" not in roles:
        raise PermissionDenied(_("只有许可方可以确认放款"))
    if period.status != "held":
        raise RoyaltyConflict(_("该期当前不是托管中（%(status)s），不能放款", status=str(STATUS_LABELS[period.status])),
                              status=period.status)
    if actor is None:
        hold = timedelta(days=current_app.config["ROYALTY_HOLD_DAYS"])
        if now < period.paid_at + hold:
            raise RoyaltyConflict(_("托管期尚未届满"))
    _book_release(licence, period, actor, now)
    return period


def _book_release(licence, period, actor, now):
    net = period.amount - period.fee
    ledger.post(f"royalty:{period.id}:release", "royalty_release",
                [Leg("royalty_escrow", -period.amount), Leg("seller_payable", net), Leg("platform_revenue", period.fee)],
                currency=period.currency, memo=_memo(licence, period, "released"), actor=actor, now=now)
    period.status, period.released_at = "released", now
    _tell(licence.licensor_id, licence, msg(N_("许可费已放款")),
          msg(N_("%(net)s（扣除平台服务费 %(fee)s）待付至您的收款账户。"), net=money(net, period.currency),
              fee=money(period.fee, period.currency)))


def record_payout(period_id, reference, actor, now=None):
    """An operator records the bank transfer of a released period to the licensor's verified account."""
    from . import payouts

    now = now or utcnow()
    period = db.session.get(RoyaltyPeriod, period_id) if isinstance(period_id, int) else None
    if period is None:
        raise NotFound(_("许可费期次不存在"))
    licence, period, _roles = _lock_period(period.licence_id, period_id, None)
    _operator(actor, licence)
    if period.status != "released":
        raise RoyaltyConflict(_("该期当前不是待付给许可方（%(status)s）", status=str(STATUS_LABELS[period.status])),
                              status=period.status)
    reference = reference.strip() if isinstance(reference, str) else ""
    if not REFERENCE_LENGTH[0] <= len(reference) <= REFERENCE_LENGTH[1]:
        raise ValidationError(_("请填写银行流水号"), {"reference": _("4–100 个字符")})
    payouts.require_payable_account(licence.deal, now)
    net = period.amount - period.fee
    ledger.post(f"royalty:{period.id}:payout", "royalty_payout",
                [Leg("seller_payable", -net), Leg("seller_payouts", net)], currency=period.currency,
                memo=_memo(licence, period, "paid_out"), reference=reference, actor=actor, now=now)
    period.status, period.payout_reference, period.payout_paid_at = "paid_out", reference, now
    audit.record(actor, "royalty.payout", "royalty_period", period.id, {"status": "released"},
                 {"status": "paid_out", "reference": reference})
    _tell(licence.licensor_id, licence, msg(N_("许可费已付至您的账户")),
          msg(N_("%(amount)s 已付至您的账户。"), amount=money(net, period.currency)))
    return period


def ledger_rows(licence):
    """Each period's bookings, for the licence page and API: [(period, [entry, …])]."""
    from .models import JournalEntry

    keys = {}
    for period in licence.periods:
        keys[period.id] = [f"royalty:{period.id}:{k}" for k in ("fund", "release", "payout")]
    wanted = [k for ks in keys.values() for k in ks]
    entries = {e.idempotency_key: e for e in db.session.scalars(
        select(JournalEntry).where(JournalEntry.idempotency_key.in_(wanted)))} if wanted else {}
    return [(p, [entries[k] for k in keys[p.id] if k in entries]) for p in licence.periods]


# --- deadlines -------------------------------------------------------------------------------------------

def _late(period, today, grace):
    """(what is late, since) for a period: the report or the payment; None when nothing is late."""
    if period.status == "open" and period.kind == "running" and today > period.due_on:
        return "report", period.due_on
    if period.status == "awaiting_payment" and period.payment_due_on and today > period.payment_due_on:
        return "payment", period.payment_due_on
    return None


def run_royalty_deadlines(now):
    """Start, void and end licences; remind the recordal; remind late reports and payments and record the
    credit finding after the grace period; release held periods after the hold. Returns counts."""
    today = local(now).date()
    grace = current_app.config["ROYALTY_GRACE_DAYS"]
    hold = timedelta(days=current_app.config["ROYALTY_HOLD_DAYS"])
    counts = {"licences_activated": 0, "licences_ended": 0, "royalty_reminders": 0, "royalty_credit_records": 0,
              "royalties_released": 0, "recordal_reminders": 0}
    counts["open_licences_lapsed"] = open_licence.lapse_dead(now)
    # Every paid licence deal has its licence (a negotiated one whose parties never opened the licence page too):
    # its recordal is tracked and its end ends the register's licence.
    from .models import Deal

    unlicensed = db.session.scalars(select(Deal).where(
        Deal.deal_type.in_(tuple(LICENCE_OF_DEAL)), Deal.funded_at.isnot(None), Deal.license_start.isnot(None),
        Deal.license_end.isnot(None), Deal.state.notin_(("cancelled", "refunded")),
        ~select(Licence.id).where(Licence.deal_id == Deal.id).exists()).order_by(Deal.id).limit(500)).all()
    for deal in unlicensed:
        create_licence(deal, now=now)
    licences = db.session.scalars(select(Licence).where(Licence.status.in_(("pending", "active")))
                                  .order_by(Licence.id)).all()
    for licence in licences:
        changed = sync(licence, now)
        if changed == "activated":
            counts["licences_activated"] += 1
        elif changed == "ended":
            counts["licences_ended"] += 1
    # Periods still to report, pay or release, also of licences that have ended since (their last periods are
    # reported and paid after the end).
    owing = db.session.scalars(select(Licence).where(Licence.status.in_(("active", "ended")), Licence.id.in_(
        select(RoyaltyPeriod.licence_id).where(RoyaltyPeriod.status.in_(("open", "awaiting_payment", "held")))))
        .order_by(Licence.id)).all()
    for licence in dict.fromkeys([lic for lic in licences if lic.status == "active"] + owing):
        deal = licence.deal
        if deal.recorded_at is None and licence.status == "active":
            if today > licence.recordal_due_on and licence.recordal_overdue_at is None:
                licence.recordal_overdue_at = now
                _tell_both(licence, msg(N_("许可合同备案已逾期")), msg(N_("专利实施许可合同应在合同生效之日起三个月内（%(due)s 前）向国家知识产权局备案，请尽快办理并在交易页上传备案通知书。"), due=licence.recordal_due_on.isoformat()))
                counts["recordal_reminders"] += 1
            elif today >= licence.recordal_due_on - timedelta(days=RECORDAL_REMINDER_DAYS) and \
                    licence.recordal_reminded_at is None:
                licence.recordal_reminded_at = now
                _tell_both(licence, msg(N_("请办理许可合同备案")), msg(N_("专利实施许可合同应于 %(due)s 前向国家知识产权局备案。"), due=licence.recordal_due_on.isoformat()))
                counts["recordal_reminders"] += 1
        for period in licence.periods:
            late = _late(period, today, grace)
            if late is not None:
                what, since = late
                if period.reminded_at is None:
                    period.reminded_at = now
                    _tell_both(licence, msg(N_("许可费逾期提醒")), msg(N_("%(start)s 起一期的%(what)s已于 %(due)s 到期。逾期 %(grace)s 天将记入被许可方的信用记录。"), start=period.starts_on.isoformat(), what=label(N_("销售额报告") if what == "report" else N_("许可费付款")), due=since.isoformat(), grace=grace))
                    counts["royalty_reminders"] += 1
                elif period.credit_recorded_at is None and today > since + timedelta(days=grace):
                    period.credit_recorded_at = now
                    licensee = db.session.get(User, licence.licensee_id)
                    record_system_finding(licensee, "non_performance", "warned", _(
                        "许可 #%(id)s（交易 #%(deal)s）%(start)s 起一期的%(what)s逾期超过 %(grace)s 天",
                        id=licence.id, deal=licence.deal_id, start=period.starts_on.isoformat(),
                        what=_("销售额报告") if what == "report" else _("付款"), grace=grace),
                        deal_id=licence.deal_id, now=now)
                    counts["royalty_credit_records"] += 1
            if period.status == "held" and period.paid_at and now >= period.paid_at + hold:
                _book_release(licence, period, None, now)
                counts["royalties_released"] += 1
    db.session.flush()
    return counts


# --- dashboards ------------------------------------------------------------------------------------------

def payments_of(licence):
    """One licence's payments, oldest first: the licensor's income and the licensee's payment history: the upfront fee (the deal) and every period after it.

    Each row: kind (upfront | running | instalment), seq, starts_on, ends_on, due_on (the report for a running
    period, else the payment), net_sales, amount, fee, net (what the licensor gets), status, reported_at, paid_at,
    released_at, paid_out_at. Amounts in fen; None where not yet known."""
    deal = licence.deal
    paid = deal.funded_at is not None and deal.state not in ("cancelled", "refunded")
    rows = [{"kind": "upfront", "seq": 0, "starts_on": licence.starts_on, "ends_on": None, "due_on": None,
             "net_sales": None, "amount": deal.price, "fee": deal.fee, "net": deal.price - deal.fee,
             "status": ("paid_out" if deal.payout_paid_at else "released" if deal.released_at else "held") if paid
             else ("void" if deal.state in ("cancelled", "refunded") else "awaiting_payment"),
             "reported_at": None, "paid_at": deal.funded_at, "released_at": deal.released_at,
             "paid_out_at": deal.payout_paid_at, "currency": deal.currency, "licence": licence, "period": None}]
    for p in licence.periods:
        rows.append({"kind": p.kind, "seq": p.seq, "starts_on": p.starts_on, "ends_on": p.ends_on,
                     "due_on": p.due_on if p.kind == "running" and p.status == "open" else p.payment_due_on,
                     "net_sales": p.net_sales, "amount": p.amount, "fee": p.fee,
                     "net": None if p.amount is None else p.amount - (p.fee or 0), "status": p.status,
                     "reported_at": p.reported_at, "paid_at": p.paid_at, "released_at": p.released_at,
                     "paid_out_at": p.payout_paid_at, "currency": p.currency, "licence": licence, "period": p})
    return rows


PAYMENT_STATUS_LABELS = {**STATUS_LABELS, "void": _l("未付款（交易已取消或退款）")}
PAYMENT_KIND_LABELS = {"upfront": _l("入门费"), "running": _l("提成"), "instalment": _l("分期付款")}


def dashboard(user, today=None):
    """What ``/licences`` shows: licences granted (with reports due and received, income per period) and licences
    held (with the next report due and the payment history)."""
    today = today or local(utcnow()).date()
    granted, held = [], []
    for licence in licences_of(user):
        due = [p for p in licence.periods if p.kind == "running" and p.status == "open" and p.ends_on < today]
        entry = {"licence": licence, "next": next_due(licence), "reports_due": due,
                 "reports_received": [p for p in licence.periods if p.reported_at is not None]}
        (granted if licence.licensor_id == user.id else held).append(entry)
    def begun(row):  # periods still to come are on the licence page and in the CSV, not in the history
        return row["period"] is None or row["starts_on"] <= today or row["amount"] is not None

    income = [row for e in granted for row in payments_of(e["licence"]) if begun(row)]
    payments = [row for e in held for row in payments_of(e["licence"]) if begun(row)]
    return {"granted": granted, "held": held, "income": income, "payments": payments,
            "income_total": sum(r["net"] for r in income if r["status"] in ("released", "paid_out")),
            "paid_total": sum(r["amount"] for r in payments if r["paid_at"] is not None)}


def next_due(licence):
    """The next thing the licensee owes: a period to report or to pay (None when nothing is open)."""
    return next((p for p in licence.periods if p.status in ("open", "awaiting_payment")), None)


def csv_rows(user, side):
    """The CSV export of ``/licences`` for one side: one row per payment (upfront fee and each period)."""
    def yuan(fen):
        return "" if fen is None else f"{fen // 100}.{fen % 100:02d}"

    def day(value):
        return "" if value is None else value.isoformat()

    counterpart = "licensee" if side == "licensor" else "licensor"
    rows = [("licence_id", "deal_id", "listing", counterpart, "licence_status", "licence_starts_on", "licence_ends_on",
             "payment", "seq", "period_starts_on", "period_ends_on", "due_on", "net_sales_cny", "amount_cny",
             "platform_fee_cny", "net_to_licensor_cny", "status", "reported_at", "paid_at", "released_at",
             "paid_out_at")]
    for licence in licences_of(user):
        if (licence.licensor_id == user.id) != (side == "licensor"):
            continue
        deal = licence.deal
        other = (deal.buyer.organization.name if deal.buyer.organization_id else deal.buyer.name) \
            if side == "licensor" else deal.seller_name
        for r in payments_of(licence):
            rows.append((licence.id, licence.deal_id, deal.listing.title, other, licence.status,
                         day(licence.starts_on), day(licence.ends_on), r["kind"], r["seq"], day(r["starts_on"]),
                         day(r["ends_on"]), day(r["due_on"]), yuan(r["net_sales"]), yuan(r["amount"]), yuan(r["fee"]),
                         yuan(r["net"]), r["status"], iso(r["reported_at"]) or "", iso(r["paid_at"]) or "",
                         iso(r["released_at"]) or "", iso(r["paid_out_at"]) or ""))
    return rows


# --- statistics ----------------------------------------------------------------------------------------

def stats(*, suppress=True):
    """Licensing on ``/stats`` (and ``GET /api/v1/licensing/stats``): open-licence declarations (ever made, open
    now), licences taken (open licences whose deal was paid; every licence in force), and the royalty volume (the
    periods paid into escrow). ``suppress``: the statistics' rule (``marketplace.kernel.reports.MIN_CELL``): a sum that
    fewer than MIN_CELL licences make up would tell one licensee's royalties (and so its sales); it is withheld
    (None), never shown as a number. The operator's view passes ``suppress=False``."""
    declared = db.session.scalar(select(func.count(OpenLicence.id))) or 0
    open_now = db.session.scalar(select(func.count(OpenLicence.id)).where(OpenLicence.status == "open")) or 0
    taken = db.session.scalar(select(func.count(Licence.id)).where(
        Licence.open_licence_id.isnot(None), Licence.status.in_(("active", "ended")))) or 0
    in_force = db.session.scalar(select(func.count(Licence.id)).where(Licence.status == "active")) or 0
    periods, volume, licences = db.session.execute(
        select(func.count(RoyaltyPeriod.id), func.coalesce(func.sum(RoyaltyPeriod.amount), 0),
               func.count(func.distinct(RoyaltyPeriod.licence_id)))
        .where(RoyaltyPeriod.paid_at.isnot(None))).one()
    shown = not suppress or int(licences) >= MIN_CELL
    return {"open_licences_declared": int(declared), "open_licences_open": int(open_now),
            "open_licences_taken": int(taken), "licences_in_force": int(in_force),
            "royalty_periods_paid": int(periods), "royalty_licences_paying": int(licences),
            "royalty_volume": int(volume) if shown else None, "currency": "CNY", "min_cell": MIN_CELL}


# --- views' helpers ---------------------------------------------------------------------------------------

def licence_json(licence, viewer=None):
    deal = licence.deal
    out = {
        "id": licence.id, "deal_id": licence.deal_id, "status": licence.status,
        "open_licence_id": licence.open_licence_id, "licence_type": licence.licence_type,
        "licensor": deal.seller_name, "licensee": deal.buyer.organization.name if deal.buyer.organization_id
        else deal.buyer.name,
        "starts_on": licence.starts_on.isoformat(), "ends_on": licence.ends_on.isoformat(),
        "territory": licence.territory, "field": licence.field, "sublicensing": licence.sublicensing,
        "upfront_fee": licence.upfront_fee, "advance_credit": licence.advance_credit,
        "royalty_bps": licence.royalty_bps, "period": licence.period, "yearly_minimum": licence.yearly_minimum,
        "instalments": licence.instalments or [], "currency": deal.currency, "fee_bps": deal.fee_bps,
        "terms": terms_text(licence),
        "recordal": {"due_on": licence.recordal_due_on.isoformat(), "recorded_at": iso(deal.recorded_at)},
        "ended_at": iso(licence.ended_at), "ended_reason": licence.ended_reason,
        "periods": [period_json(p) for p in licence.periods],
    }
    return out


def period_json(p):
    return {"id": p.id, "seq": p.seq, "kind": p.kind, "starts_on": p.starts_on.isoformat(),
            "ends_on": p.ends_on.isoformat(), "due_on": p.due_on.isoformat(), "licence_year": p.licence_year,
            "net_sales": p.net_sales, "amount": p.amount, "fee": p.fee, "status": p.status,
            "payment_reference": p.payment_reference if p.status == "awaiting_payment" else None,
            "payment_due_on": p.payment_due_on.isoformat() if p.payment_due_on else None,
            "reported_at": iso(p.reported_at), "paid_at": iso(p.paid_at), "released_at": iso(p.released_at),
            "payout_paid_at": iso(p.payout_paid_at), "has_attachment": bool(p.report_file)}
