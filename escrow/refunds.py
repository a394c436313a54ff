"""The refund queue: an offline refund is an instruction until the bank has moved the money.

When a bank-transfer deal is refunded (a cancel after the seller missed the transfer deadline, a
dispute settled by refund or split, a confirmed transfer back), ``escrow.deals._refund`` moves the
amount out of escrow into ``refunds_in_transit`` and opens a ``RefundInstruction``: amount, reason,
and the account the money goes back to, which the buyer enters (the account must be held in the
buyer's own name, as a payout account in the seller's). An operator has the custodial bank transfer
the money and records the bank's reference; only then is the refund booked to ``buyer_refunds``
(``escrow.deals._confirm_refund``, the same booking a Stripe refund gets when Stripe confirms it).
A bank reference is used once: a second refund or payout under the same reference is refused.
Stripe refunds stay automatic and never appear here.
"""
import re

from flask_babel import gettext as _
from sqlalchemy import select

from marketplace.kernel.errors import Conflict, NotFound, PermissionDenied, ValidationError
from marketplace.kernel.extensions import db
from marketplace.kernel.i18n import N_
from marketplace.kernel.messages import money, msg
from marketplace.kernel.models import User
from marketplace.kernel.notify import notify
from marketplace.kernel.timeutil import utcnow

from .models import JournalEntry
from .payout_models import RefundInstruction
from .payouts import Payee, check_name, clean_bank_fields
from .timeline import deal_title

REFERENCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-/.]{3,99}")


def open_instruction(deal, amount, reason, now, deposit=None):
    """Called by ``escrow.deals._refund`` (deal locked) for a pending offline refund: queue it (flushed).

    ``deposit``: the won auction's deposit was paid by bank transfer and the balance by card
    (``escrow.deposits.refund_applied_deposit``): the card part goes back through the card gateway, and
    this instruction returns the deposit's part by bank; both show on the deal."""
    instruction = RefundInstruction(deal_id=deal.id, amount=amount, currency=deal.currency, reason=str(reason)[:300],
                                    status="awaiting_account", created_at=now)
    db.session.add(instruction)
    db.session.flush()
    notify(deal.buyer_id, "deal", deal_title(deal, N_("请填写退款账户")),
           msg(N_("平台将把款项退回您填写的银行账户（户名须为贵单位或您本人名称）。")), link=f"/deals/{deal.id}",
           email=True)
    return instruction


def instruction_of_deposit(deposit_id):
    """The refund queue's instruction returning a bank-transfer auction deposit (``escrow.deposits``)."""
    return db.session.execute(select(RefundInstruction).where(RefundInstruction.deposit_id == deposit_id)).scalar()


def instruction_of(deal_id):
    return db.session.execute(select(RefundInstruction).where(RefundInstruction.deal_id == deal_id)).scalar()


def _buyer_payee(deal):
    buyer = db.session.get(User, deal.buyer_id)
    return Payee(buyer.organization, None) if buyer.organization_id else Payee(None, buyer)


def enter_account(deal_id, actor, bank, branch, account_number, account_name, now=None):
    """The buyer enters (or corrects, until the money has gone) the account the refund goes back to."""
    from .deals import lock_deal

    now = now or utcnow()
    deal = lock_deal(deal_id)
    if actor is None or actor.id != deal.buyer_id:
        if actor is not None and (actor.id == deal.seller_id or actor.is_operator):
            raise PermissionDenied(_("只有买方可以填写退款账户"))
        raise NotFound(_("交易不存在"))
    instruction = instruction_of(deal.id)
    if instruction is None:
        raise Conflict(_("该交易没有待退款的指令"))
    if instruction.status == "paid":
        raise Conflict(_("退款已完成，账户不能再修改"))
    values = clean_bank_fields(bank, branch, account_number, account_name)
    check_name(values, _buyer_payee(deal))
    for key, value in values.items():
        setattr(instruction, key, value)
    instruction.account_entered_at = now
    instruction.status = "ready"
    db.session.flush()
    return instruction


BANK_TRANSFER_KINDS = ("payout", "refund", "deposit_payout", "deposit_return", "deposit_refund")


def ensure_reference_unused(reference):
    """A bank reference names one transfer: refuse one already recorded for a refund or a payout (of a deal, or
    of an auction deposit: its return or the seller's compensation)."""
    used = db.session.execute(select(RefundInstruction.id).where(RefundInstruction.bank_reference == reference)).first() \
        or db.session.execute(select(JournalEntry.id).where(JournalEntry.reference == reference,
                                                            JournalEntry.kind.in_(BANK_TRANSFER_KINDS))).first()
    if used:
        raise ValidationError(_("银行流水号 %(ref)s 已登记过，不能重复使用", ref=reference),
                              {"reference": _("该流水号已使用")})


def mark_paid(deal_id, reference, actor, now=None):
    """An operator records the bank's reference of the refund transfer: the refund is booked, once."""
    from .deals import _confirm_refund, lock_deal

    now = now or utcnow()
    if actor is None or not actor.is_operator:
        raise PermissionDenied(_("只有平台运营可以登记退款"))
    deal = lock_deal(deal_id)
    if actor.id in (deal.buyer_id, deal.seller_id):
        raise PermissionDenied(_("不能处理本人参与的交易"))
    instruction = instruction_of(deal.id)
    if instruction is None:
        raise NotFound(_("退款指令不存在"))
    reference = reference.strip() if isinstance(reference, str) else ""
    if not REFERENCE.fullmatch(reference):
        raise ValidationError(_("请填写银行流水号（4–100 位字母、数字或 - _ / .）"), {"reference": _("格式不正确")})
    if instruction.status == "paid":
        raise Conflict(_("该退款已登记（流水号 %(ref)s）", ref=instruction.bank_reference))
    if instruction.status != "ready":
        raise Conflict(_("买方尚未填写退款账户，不能登记退款"))
    ensure_reference_unused(reference)
    instruction.bank_reference = reference
    instruction.status = "paid"
    instruction.paid_at = now
    instruction.paid_by_id = actor.id
    db.session.flush()
    if is_deposit_part(instruction):
        from .deposits import book_deposit_part, credited_deposit

        book_deposit_part(deal, credited_deposit(deal), reference, actor, now)
        notify(deal.buyer_id, "deal", deal_title(deal, N_("保证金部分退款已到账")),
               msg(N_("%(amount)s 已退回您的银行账户。"), amount=money(instruction.amount, instruction.currency)), link=f"/deals/{deal.id}", email=True)
    else:
        _confirm_refund(deal, instruction.amount, reference, actor, now)
    return instruction


def is_deposit_part(instruction):
    """The instruction returns only the deposit's part of a card deal's refund (deposit by bank, balance by
    card: ``escrow.deposits.refund_applied_deposit``); the deal's own refund goes through its card gateway."""
    return instruction.deal is not None and instruction.deal.gateway != "offline"


def queue():
    """Instructions not paid yet, oldest first (the operators' refund queue)."""
    return db.session.execute(select(RefundInstruction).where(RefundInstruction.status != "paid")
                              .order_by(RefundInstruction.created_at, RefundInstruction.id)).scalars().all()


def serialize(instruction, *, operator=False):
    if instruction is None:
        return None
    return {
        "deal_id": instruction.deal_id,
        "deposit_id": instruction.deposit_id,
        "amount": instruction.amount,
        "currency": instruction.currency,
        "reason": instruction.reason,
        "part": "deposit" if instruction.deposit_id or is_deposit_part(instruction) else "deal",
        "status": instruction.status,
        "account": None if instruction.account_number is None else {
            "bank": instruction.bank, "branch": instruction.branch, "account_name": instruction.account_name,
            "account_number": instruction.account_number if operator else instruction.masked_number},
        "bank_reference": instruction.bank_reference,
    }
