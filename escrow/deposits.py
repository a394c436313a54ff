"""Auction deposits (保证金): paid into escrow before the first bid, then applied, returned or forfeited once.

The rule (docs/trading.md "Auction deposits", shown on the auction page before anyone pays):

- A seller may ask for a deposit on an auction: at least 0.01 元, at most ``DEPOSIT_MAX_BPS`` (20 %) of the
  start price (``listings.vocab.max_deposit``; the ceiling of China's online judicial auctions). A bidder pays it before their first bid,
  through the same gateways as a deal (Stripe, or a bank transfer an operator confirms); without a held
  deposit a bid is refused (``listings.bidding.DepositRequired``).
- The auction closes with a sale: the winner's deposit counts towards the price (the deal's amount due is
  the price minus the deposit, ``Deal.deposit_credit``) and moves into the deal's escrow when the deal is
  funded. Every other deposit is returned.
- No sale (no bid, reserve not met), or the listing withdrawn: every deposit is returned.
- The winner does not pay in time (``expire_payment``) or cancels the unpaid deal: the deposit is forfeited.
  The seller gets the deposit minus the platform fee on it (``escrow.fees.platform_fee``, the same rate as on
  a price), the platform keeps that fee. An operator cancelling an unpaid deal returns the deposit.

Money moves only through the ledger (``escrow.ledger``, account ``auction_deposits``)::

    fund       gateway_clearing:<gw> -D        auction_deposits +D         deposit:{id}:fund
    apply      auction_deposits -D             escrow +D  (the deal's)     deposit:{id}:apply
    return     auction_deposits -D             buyer_refunds +D            deposit:{id}:return
               (a Stripe refund not yet confirmed: → refunds_in_transit first, deposit:{id}:return_requested)
    forfeit    auction_deposits -D             seller_payable +(D-F)  platform_revenue +F   deposit:{id}:forfeit
    payout     seller_payable -(D-F)           seller_payouts +(D-F)       deposit:{id}:payout

An applied deposit is part of its deal's escrow: a deal refunded after funding returns it with the price,
through the deposit's own payment (``refund_applied_deposit``, key ``deal:{id}:deposit_refund``).

Gateway calls never happen while a row is locked for a close: closing an auction only decides (a deposit
becomes ``returning``); ``send_returns`` and ``send_forfeit_payouts`` (run by ``flask deadlines run`` after
the closes are committed) call the gateway and then book under the deposit's lock, with idempotency keys so a
retry after a lost answer cannot pay twice. An offline (bank) deposit is returned by an operator: the return
is an instruction (``return_offline_deposit``) the operator completes with the bank's reference.
"""
from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from listings import bidding
from listings.locking import lock_listing, lock_row
from listings.models import Auction, AuctionDeposit, Listing
from marketplace.kernel import audit
from marketplace.kernel.credit import ensure_can
from marketplace.kernel.errors import Conflict, DomainError, NotFound, PermissionDenied, ValidationError
from marketplace.kernel.extensions import db
from marketplace.kernel.i18n import N_
from marketplace.kernel.messages import money, msg
from marketplace.kernel.models import User
from marketplace.kernel.money import display_yuan
from marketplace.kernel.notify import notify
from marketplace.kernel.timeutil import utcnow

from . import gateways, ledger, references
from .fees import platform_fee
from .gateways import get_gateway
from .ledger import Leg
from .webhook_models import StripePaymentIntent

REFERENCE_PREFIX = "IPD"  # bank memo for a deposit: IPD + id + check digits (deals use IPM)
HOLDING = ("held", "returning")  # statuses whose money may still be in ``auction_deposits``
STATUS_LABELS = {"awaiting_payment": _l("待交纳"), "held": _l("已交纳（托管中）"), "applied": _l("已抵作价款"),
                 "returning": _l("退还中"), "returned": _l("已退还"), "forfeited": _l("已罚没（补偿卖方）"),
                 "lapsed": _l("未交纳，已失效")}


class DepositError(Conflict):
    code = "deposit_conflict"


# --- the rule, in numbers ---------------------------------------------------------------------

def forfeit_split(amount, bps=None):
    """``(to the seller, platform fee)`` of a forfeited deposit of ``amount`` fen: the fee is the platform's
    rate on the amount (``escrow.fees.platform_fee``; the won deal's own ``fee_bps`` once it exists, as its
    contract says), the seller gets the rest."""
    fee = platform_fee(amount, bps)
    return amount - fee, fee


def rule_summary(auction):
    """What the auction page shows before anyone pays (template and API)."""
    if not auction or not auction.deposit_amount:
        return None
    to_seller, fee = forfeit_split(auction.deposit_amount)
    return {"deposit_amount": auction.deposit_amount, "forfeit_to_seller": to_seller, "forfeit_platform_fee": fee,
            "fee_bps": current_app.config["PLATFORM_FEE_BPS"]}


# --- loading ---------------------------------------------------------------------------------

def lock_deposit(deposit_id):
    """The deposit, locked for the rest of the transaction and freshly read; 404 if missing."""
    return lock_row(AuctionDeposit, deposit_id, _("保证金记录不存在"))


def deposit_of(auction, user):
    if auction is None or user is None or not getattr(user, "is_authenticated", True):
        return None
    return db.session.execute(select(AuctionDeposit).where(
        AuctionDeposit.auction_id == auction.id, AuctionDeposit.bidder_id == user.id)).scalar_one_or_none()


def get_deposit_for(deposit_id, user):
    """The deposit if ``user`` is its bidder or an operator; 404 otherwise."""
    deposit = db.session.get(AuctionDeposit, bidding.check_id(deposit_id, _("保证金记录不存在")))
    if deposit is None or user is None or not (deposit.bidder_id == user.id or user.is_operator):
        raise NotFound(_("保证金记录不存在"))
    return deposit


def deposits_of_auction(auction, statuses=None, lock=False):
    query = select(AuctionDeposit).where(AuctionDeposit.auction_id == auction.id).order_by(AuctionDeposit.id)
    if statuses:
        query = query.where(AuctionDeposit.status.in_(statuses))
    if lock and db.session.get_bind().dialect.name != "sqlite":
        query = query.with_for_update()
    return db.session.execute(query.execution_options(populate_existing=True)).scalars().all()


def _operators():
    return db.session.execute(
        select(User.id).where(User.roles_csv.contains("operator"), User.active.is_(True))).scalars().all()


def _tell(deposit, title, body=""):
    notify(deposit.bidder_id, "deposit", title, body, link=bidding.listing_path(deposit.auction.listing_id))


def flag(deposit, reason):
    deposit.flagged = str(reason)[:200]
    for user_id in _operators():
        notify(user_id, "deposit", msg(N_("保证金 #%(id)s：需人工处理"), id=deposit.id), reason, link="/operator/deposits")


# --- paying ------------------------------------------------------------------------------------

def open_deposit(listing_id, bidder, now=None):
    """The bidder asks to pay the auction's deposit: returns the AuctionDeposit (awaiting payment).

    Refused, with nothing changed: an auction that needs no deposit, that has ended or not yet
    opened to bids; the seller's own side (403); a deposit already paid (409 ``deposit_conflict``).
    Asking again while unpaid returns the same deposit (a new payment attempt). Flushes; the
    caller commits, then asks ``payment_instructions`` (a gateway call, outside any lock).
    """
    now = now or utcnow()
    bidding.check_id(listing_id)
    ensure_can(bidder, "bid")
    listing = lock_listing(listing_id)
    bidding.check_may_trade(listing, bidder, "auction")
    auction = bidding.fresh_auction(listing)
    if auction is None or not auction.deposit_amount:
        raise DepositError(_("该拍卖无需交纳保证金，可以直接出价"), deposit_required=False)
    if auction.closed_at is not None or now >= auction.ends_at:
        raise DepositError(_("拍卖已结束，不能再交纳保证金"), ends_at=auction.ends_at.isoformat())
    deposit = deposit_of(auction, bidder)
    if deposit is not None and deposit.status != "awaiting_payment":
        raise DepositError(_("您已交纳本场拍卖的保证金（%(status)s），无需重复交纳", status=str(STATUS_LABELS[deposit.status])),
                           status=deposit.status, deposit_id=deposit.id)
    if deposit is None:
        config = current_app.config
        deposit = AuctionDeposit(auction_id=auction.id, bidder_id=bidder.id, amount=auction.deposit_amount,
                                 currency=listing.currency, status="awaiting_payment", created_at=now, updated_at=now,
                                 gateway="stripe" if config.get("STRIPE_SECRET_KEY") else "offline")
        db.session.add(deposit)
        db.session.flush()
        deposit.payment_reference = references.payment_reference(deposit.id, prefix=REFERENCE_PREFIX)
        db.session.flush()
    return deposit


def payment_instructions(deposit):
    """Ask the deposit's gateway how to pay (a new Stripe PaymentIntent per attempt; bank details offline).

    Call after the deposit row is committed: no row lock is held while the provider answers.
    """
    attempt = 1 + db.session.execute(select(func.count(StripePaymentIntent.id))
                                     .where(StripePaymentIntent.deposit_id == deposit.id)).scalar_one()
    instructions = get_gateway(deposit.gateway).start_payment(deposit, attempt)
    instructions["deposit_id"] = deposit.id
    return instructions


def _fund(deposit, amount, gateway_name, reference, actor, now):
    ledger.post(f"deposit:{deposit.id}:fund", "deposit_fund",
                [Leg(ledger.clearing_account(gateway_name), -amount), Leg("auction_deposits", amount)],
                currency=deposit.currency, memo=msg(N_("竞拍保证金到账（保证金 #%(id)s）"), id=deposit.id), reference=reference,
                actor=actor, now=now)
    deposit.paid_at = now
    deposit.updated_at = now
    auction = deposit.auction
    if auction.closed_at is None and now < auction.ends_at and deposit.status == "awaiting_payment":
        deposit.status = "held"
        _tell(deposit, msg(N_("保证金已到账：%(title)s"), title=auction.listing.title),
              msg(N_("%(amount)s 已进入托管，您现在可以出价。"), amount=money(amount, deposit.currency)))
    else:  # paid after the auction closed (a late card payment): it goes straight back
        deposit.status = "held"
        _decide_return(deposit, msg(N_("保证金在拍卖结束后到账，原路退还")), now)
    db.session.flush()


def confirm_offline_deposit(deposit_id, reference, amount, actor, now=None):
    """An operator confirms a bank transfer of a deposit by its reference and amount; the deposit is held.

    Refused with the reason (422 for a wrong reference or amount, 409 for a deposit not awaiting a bank
    transfer or an auction that has ended, 403 for a non-operator or an operator who is a party);
    confirming a held deposit again with the same reference changes nothing.
    """
    now = now or utcnow()
    if actor is None or not actor.is_operator:
        raise PermissionDenied(_("只有平台运营可以确认保证金到账"))
    deposit = lock_deposit(bidding.check_id(deposit_id, _("保证金记录不存在")))
    if actor.id == deposit.bidder_id or bidding.is_own_organisation(deposit.auction.listing, actor):
        raise PermissionDenied(_("不能确认与本人或本单位有关的保证金"))
    if deposit.gateway != "offline":
        raise DepositError(_("该保证金通过在线支付交纳，到账由支付通道自动确认"), gateway=deposit.gateway)
    ref = references.normalise(reference)
    errors = {}
    if not references.is_valid(ref, prefix=REFERENCE_PREFIX):
        errors["reference"] = _("参考号格式或校验位不正确（形如 IPD0000000797），请核对回单")
    elif ref != deposit.payment_reference:
        errors["reference"] = _("参考号 %(ref)s 不属于该保证金（应为 %(own)s）", ref=ref, own=deposit.payment_reference)
    if not isinstance(amount, int) or isinstance(amount, bool):
        errors["amount"] = _("到账金额须为整数（分）")
    elif amount != deposit.amount:
        errors["amount"] = _("到账金额 %(amount)s 与保证金 %(due)s 不符", amount=display_yuan(amount, deposit.currency),
                             due=display_yuan(deposit.amount, deposit.currency))
    if errors:
        raise ValidationError(_("到账信息与该保证金不符，未确认"), errors)
    if deposit.status != "awaiting_payment":
        if ledger.find_entry(f"deposit:{deposit.id}:fund") is not None:
            return deposit  # a repeated confirmation: nothing booked twice
        raise DepositError(_("该保证金当前状态为“%(status)s”，不能确认到账", status=str(STATUS_LABELS[deposit.status])),
                           status=deposit.status)
    auction = deposit.auction
    if auction.closed_at is not None or now >= auction.ends_at:
        raise DepositError(_("拍卖已结束，不能再确认保证金到账；请将款项退回竞买人"), status=deposit.status)
    _fund(deposit, amount, "offline", ref, actor, now)
    audit.record(actor, "deposit.confirm", "auction_deposit", deposit.id, {"status": "awaiting_payment"},
                 {"status": deposit.status, "reference": ref})
    return deposit


def record_gateway_payment(deposit_id, amount, currency, gateway_name, provider_ref, now=None):
    """A gateway (the Stripe webhook) reports a deposit's payment: hold it once (key ``deposit:{id}:fund``).

    A wrong amount or currency flags the deposit for an operator and books nothing; a payment arriving
    after the auction closed is booked and returned at once.
    """
    now = now or utcnow()
    deposit = lock_deposit(deposit_id)
    if ledger.find_entry(f"deposit:{deposit.id}:fund") is not None:
        return "already held"
    currency = (currency or "").upper()
    if amount != deposit.amount or currency != deposit.currency:
        flag(deposit, msg(N_("%(gateway_name)s 付款 %(provider_ref)s 金额 %(amount)s %(currency)s 与保证金 %(amount2)s %(currency2)s 不符，需退还"), gateway_name=gateway_name, provider_ref=provider_ref, amount=amount, currency=currency, amount2=money(deposit.amount, deposit.currency), currency2=""))
        return "flagged: amount differs"
    _fund(deposit, amount, gateway_name, provider_ref, None, now)
    return "deposit held" if deposit.status == "held" else "deposit held and returned (auction over)"


# --- bids check this (listings.bidding.check_deposit, called by escrow.trading.place_bid, reads the status) ---

# --- closing, withdrawal -----------------------------------------------------------------------

def settle_auction(auction, outcome, deal=None, now=None):
    """At the close (under the listing's lock): the winner's deposit is credited to ``deal``; every other
    held deposit is to be returned, unpaid ones lapse. Decides only (no gateway call, no booking but
    the credit): ``send_returns`` returns the money after the commit."""
    now = now or utcnow()
    for deposit in deposits_of_auction(auction, lock=True):
        if deposit.status == "awaiting_payment":
            deposit.status = "lapsed"
            deposit.updated_at = now
        elif deposit.status == "held" and deal is not None and deposit.bidder_id == deal.buyer_id:
            deposit.deal_id = deal.id
            deal.deposit_credit = deposit.amount
            deposit.updated_at = now
            _tell(deposit, msg(N_("保证金抵作价款：%(title)s"), title=auction.listing.title),
                  msg(N_("您交纳的保证金 %(amount)s 将抵作价款，请在付款期限内支付余款 %(amount2)s；逾期未付，保证金不予退还（补偿卖方）。"), amount=money(deposit.amount, deposit.currency), amount2=money(deal.amount_due, deal.currency)))
        elif deposit.status == "held":
            reason = msg(N_("拍卖未成交，保证金退还") if outcome != "sold" else N_("未中标，保证金退还"))
            _decide_return(deposit, reason, now)
    db.session.flush()


def return_all(auction, reason, now=None):
    """Every held deposit of ``auction`` is to be returned (the listing was withdrawn); unpaid ones lapse."""
    now = now or utcnow()
    for deposit in deposits_of_auction(auction, ("held", "awaiting_payment"), lock=True):
        if deposit.status == "awaiting_payment":
            deposit.status = "lapsed"
        else:
            _decide_return(deposit, reason, now)
    db.session.flush()


def _decide_return(deposit, reason, now):
    deposit.status = "returning"
    deposit.settled_at = now
    deposit.updated_at = now
    if deposit.gateway == "offline":
        return_offline_deposit(deposit, reason, now)
    else:
        _tell(deposit, msg(N_("保证金退还中：%(title)s"), title=deposit.auction.listing.title),
              msg(N_("%(reason)s：%(amount)s 将原路退回。"), reason=reason, amount=money(deposit.amount, deposit.currency)))


def return_offline_deposit(deposit, reason, now):
    """Return a bank-transfer deposit: an instruction in the operators' one refund queue (``escrow.refunds``,
    ``/operator/refunds``, beside the deals' bank refunds): amount, bidder, reason, back the way it came
    (原路退回, to the account the transfer came from, named by the bank receipt of ``payment_reference``).
    The operator pays it back by bank and records the bank's reference (``record_offline_return``); only
    then is it booked."""
    from .payout_models import RefundInstruction

    db.session.add(RefundInstruction(deposit_id=deposit.id, amount=deposit.amount, currency=deposit.currency,
                                     reason=f"竞拍保证金退还（{reason}），原路退回付款账户"[:300], status="ready",
                                     created_at=now))
    db.session.flush()
    for user_id in _operators():
        notify(user_id, "deposit", msg(N_("待退还保证金 #%(id)s"), id=deposit.id),
               msg(N_("请向 %(masked_name)s 原路退还 %(amount)s（%(reason)s），退款后在退款指令队列登记银行流水号。"), masked_name=deposit.bidder.masked_name, amount=money(deposit.amount, deposit.currency), reason=reason), link="/operator/refunds")
    _tell(deposit, msg(N_("保证金退还中：%(title)s"), title=deposit.auction.listing.title),
          msg(N_("%(reason)s：%(amount)s 将由平台通过银行原路退回。"), reason=reason, amount=money(deposit.amount, deposit.currency)))


def record_offline_return(deposit_id, reference, actor, now=None):
    """An operator records the bank transfer that returned an offline deposit: booked, status returned."""
    now = now or utcnow()
    if actor is None or not actor.is_operator:
        raise PermissionDenied(_("只有平台运营可以登记保证金退款"))
    reference = _bank_reference(reference)
    deposit = lock_deposit(bidding.check_id(deposit_id, _("保证金记录不存在")))
    if actor.id == deposit.bidder_id or bidding.is_own_organisation(deposit.auction.listing, actor):
        raise PermissionDenied(_("不能处理与本人或本单位有关的保证金"))
    if deposit.gateway != "offline" or deposit.status != "returning":
        raise DepositError(_("该保证金没有待登记的银行退款"), status=deposit.status)
    _book_return(deposit, reference, actor, now)
    from .refunds import instruction_of_deposit

    instruction = instruction_of_deposit(deposit.id)
    if instruction is not None:  # (a deposit decided before the one refund queue has none)
        instruction.status, instruction.bank_reference = "paid", reference
        instruction.paid_at, instruction.paid_by_id = now, actor.id
        db.session.flush()
    audit.record(actor, "deposit.return", "auction_deposit", deposit.id, {"status": "returning"},
                 {"status": "returned", "reference": reference})
    return deposit


def _bank_reference(reference):
    reference = reference.strip() if isinstance(reference, str) else ""
    if not reference:
        raise ValidationError(_("请填写银行流水号"), {"reference": _("必填")})
    if len(reference) > 100:
        raise ValidationError(_("流水号过长"), {"reference": _("不超过 100 个字符")})
    from .refunds import ensure_reference_unused

    ensure_reference_unused(reference)  # one bank reference, one transfer: payouts, refunds and deposits alike
    return reference


def _book_return(deposit, reference, actor, now):
    source = "refunds_in_transit" if ledger.find_entry(f"deposit:{deposit.id}:return_requested") else "auction_deposits"
    ledger.post(f"deposit:{deposit.id}:return", "deposit_return",
                [Leg(source, -deposit.amount), Leg("buyer_refunds", deposit.amount)],
                currency=deposit.currency, memo=msg(N_("竞拍保证金退还（保证金 #%(id)s）"), id=deposit.id), reference=reference,
                actor=actor, now=now)
    deposit.status = "returned"
    deposit.return_reference = reference
    deposit.updated_at = now
    _tell(deposit, msg(N_("保证金已退还：%(title)s"), title=deposit.auction.listing.title),
          msg(N_("%(amount)s 已退回。"), amount=money(deposit.amount, deposit.currency)))
    db.session.flush()


def send_returns(now=None):
    """Return every deposit decided ``returning`` through its gateway (Stripe: automatic), each in its own
    transaction: the gateway is asked first (no lock held), then the answer is booked under the deposit's
    lock. Idempotency key ``deposit:{id}:return``: a retry after a lost answer finds the same refund.
    Offline deposits wait for an operator (``record_offline_return``). Returns how many were sent."""
    now = now or utcnow()
    ids = db.session.execute(select(AuctionDeposit.id).where(
        AuctionDeposit.status == "returning", AuctionDeposit.gateway != "offline",
        AuctionDeposit.return_reference.is_(None)).order_by(AuctionDeposit.id)).scalars().all()
    db.session.commit()
    sent = 0
    for deposit_id in ids:
        deposit = db.session.get(AuctionDeposit, deposit_id)
        result = get_gateway(deposit.gateway).refund(deposit, deposit.amount, f"deposit:{deposit.id}:return")
        db.session.rollback()  # nothing was written; the booking starts a fresh transaction and locks
        try:
            deposit = lock_deposit(deposit_id)
            if deposit.status != "returning" or deposit.return_reference is not None:
                db.session.rollback()
                continue
            if not result.ok:
                flag(deposit, msg(N_("保证金退款未能发起：%(message)s，将在下次运行时重试"), message=result.message))
            elif result.pending:
                ledger.post(f"deposit:{deposit.id}:return_requested", "deposit_return_requested",
                            [Leg("auction_deposits", -deposit.amount), Leg("refunds_in_transit", deposit.amount)],
                            currency=deposit.currency, memo=msg(N_("保证金退款已发起，等待支付通道确认")),
                            reference=result.reference, now=now)
                deposit.return_reference = result.reference
                sent += 1
            else:
                _book_return(deposit, result.reference, None, now)
                sent += 1
            db.session.commit()
        except DomainError:
            db.session.rollback()
    return sent


def record_gateway_refund(deposit_id, amount, provider_ref, now=None):
    """A gateway confirms a refund drawn on a deposit's payment: the deposit's own return, or the deposit's
    part of its deal's refund. Booked once; an amount that differs flags the deposit."""
    now = now or utcnow()
    deposit = lock_deposit(deposit_id)
    if ledger.find_entry(f"deposit:{deposit.id}:return") is not None or (
            deposit.deal_id and ledger.find_entry(f"deal:{deposit.deal_id}:deposit_refund") is not None):
        return "already booked"
    requested = ledger.find_entry(f"deposit:{deposit.id}:return_requested")
    if requested is not None and requested.reference == provider_ref:
        if amount != deposit.amount:
            flag(deposit, msg(N_("退款 %(provider_ref)s 金额 %(amount)s 与保证金 %(amount2)s 不符"), provider_ref=provider_ref, amount=money(amount, deposit.currency), amount2=money(deposit.amount, deposit.currency)))
            return "flagged: refund amount differs"
        _book_return(deposit, provider_ref, None, now)
        return "deposit returned"
    with_deal = ledger.find_entry(f"deal:{deposit.deal_id}:deposit_refund_requested") if deposit.deal_id else None
    if with_deal is not None and deposit.return_reference in (None, provider_ref) and deposit.status == "applied":
        # the deposit's part of its deal's refund (the webhook may arrive before the call's answer is booked)
        if amount != deposit.refunded_with_deal:
            flag(deposit, msg(N_("退款 %(provider_ref)s 金额 %(amount)s 与应退 %(refunded_with_deal)s 不符"), provider_ref=provider_ref, amount=money(amount, deposit.currency), refunded_with_deal=money(deposit.refunded_with_deal or 0, deposit.currency)))
            return "flagged: refund amount differs"
        book_deposit_part(deposit.deal, deposit, provider_ref, None, now)
        return "deposit part of the deal's refund confirmed"
    return "noted: no pending refund of this deposit"


# --- the won auction's deal --------------------------------------------------------------------

def _credited_deposit(deal):
    if not deal.deposit_credit:
        return None
    return db.session.execute(select(AuctionDeposit).where(AuctionDeposit.deal_id == deal.id)
                              .execution_options(populate_existing=True)).scalar_one()


def apply_to_deal(deal, actor, now):
    """The deal is funded (its balance paid): the winner's deposit moves into the deal's escrow, once."""
    deposit = _credited_deposit(deal)
    if deposit is None or deposit.status != "held":
        return
    ledger.post(f"deposit:{deposit.id}:apply", "deposit_apply",
                [Leg("auction_deposits", -deposit.amount), Leg("escrow", deposit.amount)], deal=deal,
                currency=deal.currency, memo=msg(N_("竞拍保证金抵作价款（保证金 #%(id)s）"), id=deposit.id), actor=actor, now=now)
    deposit.status = "applied"
    deposit.settled_at = now
    deposit.updated_at = now
    db.session.flush()


def unpaid_deal_closed(deal, defaulted, actor, now):
    """A won auction's deal closed unpaid. ``defaulted`` (the payment deadline passed, or the winner cancelled):
    the deposit is forfeited, the seller compensated and the platform's fee kept. Otherwise (an operator
    cancelled it) the deposit is returned."""
    deposit = _credited_deposit(deal)
    if deposit is None or deposit.status != "held":
        return
    if not defaulted:
        _decide_return(deposit, msg(N_("交易被平台取消，保证金退还")), now)
        return
    to_seller, fee = forfeit_split(deposit.amount, deal.fee_bps)
    ledger.post(f"deposit:{deposit.id}:forfeit", "deposit_forfeit",
                [Leg("auction_deposits", -deposit.amount), Leg("seller_payable", to_seller),
                 Leg("platform_revenue", fee)],
                currency=deposit.currency, memo=msg(N_("买受人未按期付款，保证金罚没：补偿卖方、平台服务费（交易 #%(id)s）"), id=deal.id),
                actor=actor, now=now)
    deposit.status = "forfeited"
    deposit.settled_at = now
    deposit.updated_at = now
    deposit.forfeit_fee = fee
    deposit.payout_amount = to_seller
    deposit.payout_status = "pending"
    db.session.flush()
    listing = deposit.auction.listing
    _tell(deposit, msg(N_("保证金不予退还：%(title)s"), title=listing.title),
          msg(N_("中标后未在付款期限内付清余款，保证金 %(amount)s 按竞拍规则不予退还。"), amount=money(deposit.amount, deposit.currency)))
    notify(deal.seller_id, "deposit", msg(N_("买受人违约，保证金补偿：%(title)s"), title=listing.title),
           msg(N_("中标人未按期付款，交易已取消。其保证金扣除平台服务费 %(amount)s 后，%(amount2)s 将支付给您。"), amount=money(fee, deposit.currency), amount2=money(to_seller, deposit.currency)), link=bidding.listing_path(listing.id))
    for user_id in _operators():
        notify(user_id, "deposit", msg(N_("待向卖方支付保证金补偿 #%(id)s"), id=deposit.id),
               msg(N_("%(amount)s（交易 #%(id)s）"), amount=money(to_seller, deposit.currency), id=deal.id), link="/operator/deposits")


def refund_applied_deposit(deal, amount, actor, now, reason=None):
    """A funded deal refunds ``amount`` to the buyer (deal locked). The deal's own payment covers at most
    what it took (the price less the applied deposit); the rest goes back through the deposit's own
    payment. Returns the part the deal's own gateway must refund. When both the deposit and the balance
    were paid by bank transfer, the deal's refund instruction covers it all.

    The deposit's part is an intent like the deal's own refund (``escrow.gateway_calls``): it moves
    escrow → refunds_in_transit now (key ``deal:{id}:deposit_refund_requested``); paid by card, the refund
    is asked of the gateway after the commit (key ``deal:{id}:deposit_refund``); paid by bank while the
    balance was paid by card, it is an instruction of its own in the refund queue (``escrow.refunds``),
    booked when the operator records the bank's reference."""
    deposit = credited_deposit(deal)
    if deposit is None or deposit.status != "applied":
        return amount
    if deposit.gateway == "offline" and deal.gateway == "offline":
        # Both paid by bank transfer: the whole refund is one instruction in the refund queue (escrow.refunds),
        # paid back in one transfer and booked when the operator records the bank's reference.
        return amount
    own = min(amount, deal.amount_due)
    part = amount - own
    if part <= 0:
        return amount
    ledger.post(f"deal:{deal.id}:deposit_refund_requested", "deposit_refund_requested",
                [Leg("escrow", -part), Leg("refunds_in_transit", part)], deal=deal, currency=deal.currency,
                memo=msg(N_("退还买方：保证金部分（原路退回），等待到账确认")), actor=actor, now=now)
    deposit.refunded_with_deal = part
    deposit.return_reference = None
    deposit.updated_at = now
    db.session.flush()
    if deposit.gateway == "offline":  # paid by bank, the balance by card: the refund queue returns this part
        from . import refunds

        refunds.open_instruction(deal, part, f"{reason or '交易退款'}（保证金部分，银行转账原路退回）", now,
                                 deposit=deposit)
    else:
        from . import gateway_calls

        gateway_calls.after_commit("deal_deposit_refund", deal.id, now)
    return own


def credited_deposit(deal):
    """The won auction's deposit credited to ``deal`` (None for other deals)."""
    return _credited_deposit(deal)


def deposit_part_outstanding(deal, deposit):
    """The deposit's part of the deal's refund is in transit and not yet sent to (or answered by) its
    card gateway."""
    return (deposit is not None and deposit.gateway != "offline" and bool(deposit.refunded_with_deal)
            and deposit.return_reference is None
            and ledger.find_entry(f"deal:{deal.id}:deposit_refund_requested") is not None
            and ledger.find_entry(f"deal:{deal.id}:deposit_refund") is None)


def deals_with_deposit_part_outstanding():
    """Ids of deals whose deposit part of a refund waits for its gateway call (the sweep)."""
    rows = db.session.execute(select(AuctionDeposit).where(
        AuctionDeposit.refunded_with_deal.is_not(None), AuctionDeposit.deal_id.is_not(None),
        AuctionDeposit.gateway != "offline", AuctionDeposit.return_reference.is_(None))).scalars().all()
    return [d.deal_id for d in rows if deposit_part_outstanding(d.deal, d)]


def book_deposit_part_result(deal, deposit, result, now):
    """Book the card gateway's answer for the deposit's part of a deal's refund (deal locked)."""
    if not result.ok:
        flag(deposit, msg(N_("保证金部分退款未能发起：%(message)s，将自动重试"), message=result.message))
        return "refund not sent"
    deposit.return_reference = result.reference
    deposit.updated_at = now
    if not result.pending:
        book_deposit_part(deal, deposit, result.reference, None, now)
        return "refund booked"
    db.session.flush()
    return "refund pending"


def book_deposit_part(deal, deposit, reference, actor, now):
    """The deposit's part of the deal's refund reached the buyer: refunds_in_transit → buyer_refunds, once."""
    ledger.post(f"deal:{deal.id}:deposit_refund", "deposit_refund",
                [Leg("refunds_in_transit", -deposit.refunded_with_deal),
                 Leg("buyer_refunds", deposit.refunded_with_deal)], deal=deal,
                currency=deal.currency, memo=msg(N_("保证金部分退款已到账")), reference=reference, actor=actor, now=now)
    deposit.return_reference = reference
    deposit.updated_at = now
    db.session.flush()


# --- paying the seller a forfeited deposit -------------------------------------------------------

def send_forfeit_payouts(now=None):
    """Pay forfeited deposits to sellers with a Stripe connected account (Connect transfer, key
    ``deposit:{id}:payout``), each in its own transaction; the gateway is asked with no lock held. Offline
    ones wait for an operator (``record_forfeit_payout``). Returns how many were paid."""
    now = now or utcnow()
    ids = db.session.execute(select(AuctionDeposit.id).where(
        AuctionDeposit.status == "forfeited", AuctionDeposit.payout_status.in_(("pending", "failed")),
        AuctionDeposit.gateway != "offline").order_by(AuctionDeposit.id)).scalars().all()
    db.session.commit()
    paid = 0
    for deposit_id in ids:
        deposit = db.session.get(AuctionDeposit, deposit_id)
        organization = deposit.auction.listing.organization
        if organization is None or not organization.stripe_account_id:
            continue
        result = get_gateway(deposit.gateway).payout(deposit, deposit.payout_amount, f"deposit:{deposit.id}:payout")
        db.session.rollback()
        try:
            deposit = lock_deposit(deposit_id)
            if deposit.payout_status == "paid":
                db.session.rollback()
                continue
            if result.ok and not result.pending:
                _book_payout(deposit, result.reference, None, now)
                paid += 1
            else:
                deposit.payout_status = "failed"
                flag(deposit, msg(N_("保证金补偿向卖方转账未成功：%(message)s"), message=result.message))
            db.session.commit()
        except DomainError:
            db.session.rollback()
    return paid


def record_forfeit_payout(deposit_id, reference, actor, now=None):
    """An operator records the bank transfer paying a forfeited deposit's compensation to the seller."""
    now = now or utcnow()
    if actor is None or not actor.is_operator:
        raise PermissionDenied(_("只有平台运营可以登记付款"))
    reference = _bank_reference(reference)
    deposit = lock_deposit(bidding.check_id(deposit_id, _("保证金记录不存在")))
    if bidding.is_own_organisation(deposit.auction.listing, actor) or actor.id == deposit.bidder_id:
        raise PermissionDenied(_("不能处理与本人或本单位有关的保证金"))
    if deposit.status != "forfeited" or deposit.payout_status == "paid":
        raise DepositError(_("该保证金没有待支付给卖方的补偿"), status=deposit.status, payout_status=deposit.payout_status)
    organization = deposit.auction.listing.organization
    if deposit.gateway != "offline" and organization is not None and organization.stripe_account_id:
        raise DepositError(_("卖方已绑定在线收款账户，补偿由支付通道自动转账"), gateway=deposit.gateway)
    from . import payouts

    payouts.require_payable_account(deposit.auction.listing, now)  # bank payouts only into a verified account
    _book_payout(deposit, reference, actor, now)
    audit.record(actor, "deposit.payout", "auction_deposit", deposit.id, {"payout_status": "pending"},
                 {"payout_status": "paid", "reference": reference})
    return deposit


def _book_payout(deposit, reference, actor, now):
    ledger.post(f"deposit:{deposit.id}:payout", "deposit_payout",
                [Leg("seller_payable", -deposit.payout_amount), Leg("seller_payouts", deposit.payout_amount)],
                currency=deposit.currency, memo=msg(N_("保证金补偿支付给卖方（保证金 #%(id)s）"), id=deposit.id), reference=reference,
                actor=actor, now=now)
    deposit.payout_status = "paid"
    deposit.payout_reference = reference
    deposit.updated_at = now
    listing = deposit.auction.listing
    notify(listing.seller_id, "deposit", msg(N_("保证金补偿已支付：%(title)s"), title=listing.title),
           msg(N_("%(amount)s 已付至您的账户。"), amount=money(deposit.payout_amount, deposit.currency)),
           link=bidding.listing_path(listing.id))
    db.session.flush()


# --- reading, for pages ----------------------------------------------------------------------------

def operator_queue():
    """What operators act on: bank deposits awaiting confirmation, offline returns, compensation to pay."""
    def rows(*where):
        return db.session.execute(select(AuctionDeposit).join(Auction).join(Listing).where(*where)
                                  .order_by(AuctionDeposit.id)).scalars().all()
    return {
        "to_confirm": rows(AuctionDeposit.status == "awaiting_payment", AuctionDeposit.gateway == "offline",
                           Auction.closed_at.is_(None)),
        "to_return": rows(AuctionDeposit.status == "returning", AuctionDeposit.gateway == "offline"),
        "to_pay": rows(AuctionDeposit.status == "forfeited", AuctionDeposit.payout_status.in_(("pending", "failed"))),
        "flagged": rows(AuctionDeposit.flagged.is_not(None)),
    }


def gateway_label(deposit):
    return gateways.label(deposit.gateway)
