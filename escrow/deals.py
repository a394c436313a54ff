"""Deal services: every step from purchase to paid payout (docs/design.md "Escrow").

Buy-now, an accepted offer and a won auction all end in ``open_deal`` (see
``escrow.trading``). Each later step is one function here that

1. locks the deal row (``lock_deal``: FOR UPDATE on PostgreSQL, BEGIN IMMEDIATE on
   SQLite; the ``version`` column catches any update that slips past),
2. asks the transition table (``escrow.machine``) whether the actor's role may take
   the action in the deal's state (403 / 409 otherwise, before anything changes),
3. posts the ledger entries (``escrow.ledger``), writes an append-only ``DealEvent``
   and notifies the parties, all in the caller's transaction (flush, never commit).

Roles are relative to the deal (buyer, seller, operator); ``actor=None`` is the
system (deadlines, gateway webhooks). A deal is visible only to its buyer, its
seller and operators: anyone else gets 404.

The listing follows the deal: reserved while it runs, ``sold`` when it completes,
``published`` again when it is cancelled or refunded, except the listing of a won
auction: its auction is closed, so it cannot go back on the market and becomes
``expired`` instead (the seller is told they may relist it, ``listings.service.relist_listing``).
A dispute settled by a split completes the deal (the parties settled on a lower price),
so the listing is sold.
"""
from datetime import timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select

from listings import lifecycle, register, rules
from listings import service as listing_service
from listings.locking import lock_listing, lock_row
from listings.models import ListingRight
from marketplace.kernel import audit
from marketplace.kernel.credit import ensure_seller_may_sell
from marketplace.kernel.errors import Conflict, DomainError, NotFound, ValidationError
from marketplace.kernel.extensions import db
from marketplace.kernel.i18n import N_
from marketplace.kernel.labels import LICENCE_TYPE
from marketplace.kernel.messages import label, moment, money, msg, stored
from marketplace.kernel.models import User
from marketplace.kernel.money import display_yuan
from marketplace.kernel.notify import notify
from marketplace.kernel.timeutil import local, utcnow
from marketplace.kernel.uploads import save_upload

from . import contracts, deposits, fees, gateway_calls, gateways, ledger, machine, references, strikes
from .fees import platform_fee
from .gateways import get_gateway
from .ledger import Leg
from .models import Deal, DealEvent, Document, JournalEntry
from .timeline import deal_title

# --- errors -------------------------------------------------------------------------


class PaymentMismatch(Conflict):
    """A gateway reported a payment the deal cannot take (wrong amount or currency, or a closed deal).

    Raised after the deal has been flagged (``Deal.flagged``) and a ``payment_mismatch``
    event flushed, and before anything is booked: a caller that commits after
    catching it keeps the flag for an operator.
    """

    code = "payment_mismatch"


# --- loading, roles ------------------------------------------------------------------

def lock_deal(deal_id):
    """Return the deal, locked for the rest of the transaction and freshly read; 404 if missing."""
    return lock_row(Deal, deal_id, _("交易不存在"))


def roles_of(deal, user):
    """The roles ``user`` holds on ``deal`` (empty: may not see it). ``None`` is the system."""
    if user is None:
        return {"system"}
    roles = set()
    if user.id == deal.buyer_id:
        roles.add("buyer")
    if user.id == deal.seller_id:
        roles.add("seller")
    if user.is_operator and not roles:
        roles.add("operator")  # never on a deal of their own: a party cannot confirm or judge their own deal
    return roles


def get_deal_for(deal_id, user):
    """The deal if ``user`` may see it (buyer, seller, operator); 404 otherwise."""
    return visible_to(db.session.get(Deal, deal_id), user)


def visible_to(deal, user):
    """``deal`` if ``user`` may see it (buyer, seller, operator); 404 otherwise (also for no deal: None)."""
    if deal is None or not roles_of(deal, user):
        raise NotFound(_("交易不存在"))
    return deal


def deals_of(user):
    """Deals where ``user`` is the buyer or the seller, newest first."""
    return db.session.execute(
        select(Deal).where((Deal.buyer_id == user.id) | (Deal.seller_id == user.id)).order_by(Deal.id.desc())
    ).scalars().all()


def _begin(deal_id, action, actor):
    deal = lock_deal(deal_id)
    roles = roles_of(deal, actor)
    if not roles:
        raise NotFound(_("交易不存在"))
    return deal, machine.check(deal.state, action, roles)


def _check_guard(deal, row, now):
    if row.guard == "payment_overdue" and not (deal.payment_due_at and now >= deal.payment_due_at):
        raise Conflict(_("付款期限（%(due)s）尚未届满", due=_when(deal.payment_due_at)), guard=row.guard)
    if row.guard == "transfer_overdue" and not (deal.transfer_due_at and now >= deal.transfer_due_at):
        raise Conflict(_("卖方应在 %(due)s 前提交变更申请，期限届满前不能单方取消；如有问题请提出争议",
                         due=_when(deal.transfer_due_at)), guard=row.guard)
    if row.guard == "inspection_over" and not (deal.inspection_ends_at and now >= deal.inspection_ends_at):
        raise Conflict(_("验收期（至 %(until)s）尚未届满", until=_when(deal.inspection_ends_at)), guard=row.guard)


def _when(value):
    return local(value).strftime("%Y-%m-%d %H:%M") if value else "—"


def _record(deal, action, to_state, actor, now, note=None, document=None):
    """Write the append-only event and move the deal to ``to_state``.

    An operator's act on someone else's deal also goes to the operators' audit log.
    """
    if actor is not None and actor.has_role("operator") and actor.id not in (deal.buyer_id, deal.seller_id):
        audit.record(actor, f"deal.{action}", "deal", deal.id, {"state": deal.state},
                     {"state": to_state, **({"note": str(note)} if note else {})})
    _event(deal, action, actor, now, note, to_state=to_state, document=document)
    deal.state = to_state
    deal.updated_at = now
    db.session.flush()


def _event(deal, action, actor, now, note=None, to_state=None, document=None, from_state=False):
    """Add the append-only event (no transition when ``to_state`` is None). ``note``: a message
    (``marketplace.kernel.messages.msg``, shown in the reader's language) or a person's own words (shown as typed)."""
    text, message = stored(note)
    db.session.add(DealEvent(deal_id=deal.id, actor_id=getattr(actor, "id", None), action=action,
                             from_state=deal.state if from_state is False else from_state,
                             to_state=to_state or deal.state, note=text[:1000] if text else text, note_msg=message,
                             document_id=document.id if document is not None else None, created_at=now))


def _link(deal):
    return f"/deals/{deal.id}"


def _tell(deal, users, title, body=""):
    """In-app notice, and e-mail when SMTP is set: sent only after the transaction commits (``notify``)."""
    for user_id in dict.fromkeys(users):
        notify(user_id, "deal", title, body, link=_link(deal), email=True)


def _operators():
    return db.session.execute(
        select(User.id).where(User.roles_csv.contains("operator"), User.active.is_(True))
    ).scalars().all()


def _flag(deal, reason, now):
    """Flag the deal for operators: ``reason`` (a message) on the deal, in its history and in their notification."""
    deal.flagged = str(reason)[:200]
    _event(deal, "payment_mismatch", None, now, reason)
    db.session.flush()
    _tell(deal, _operators(), deal_title(deal, N_("到账异常，需人工处理")), reason)


def reserves_listing(deal):
    """A deal takes its listing off the market while it runs, except a non-exclusive licence bought
    at a fixed or negotiated price: such a licence can be sold again and again (up to the listing's cap)."""
    return not (deal.deal_type == "non_exclusive_license" and deal.source != "auction")


def _listing_back_on_market(deal):
    """The deal was cancelled or refunded: the listing is for sale again, unless the deal came
    from its auction, which is closed for good (the Auction row keeps the bids and is the deal's
    source): then the listing expires and the seller may relist it as a new draft."""
    listing = lock_listing(deal.listing_id)
    if listing.status != "reserved" or not reserves_listing(deal):
        return
    if deal.source == "auction":
        listing_service.lapse_reservation(listing)
    else:
        lifecycle.transition(listing, "release")
        lifecycle.delist_if_not_held(listing)  # e.g. a claim to one of its rights was upheld meanwhile


def _listing_sold(deal):
    listing = lock_listing(deal.listing_id)
    if listing.status == "reserved" and reserves_listing(deal):
        lifecycle.transition(listing, "sell")


SOURCE_LABELS = {"purchase": N_("一口价购买"), "offer": N_("议价成交"), "auction": N_("竞拍成交")}


# --- opening --------------------------------------------------------------------------

def open_deal(listing, buyer, price, deal_type, source, source_id=None, now=None, actor=None):
    """Open a deal for ``listing`` with ``buyer`` at ``price`` fen and reserve the listing.

    The caller must hold the listing's row lock (``listings.locking.lock_listing``)
    and have checked its own rules (price mode, bids, offers); this checks the
    rules every path shares and flushes, in the caller's transaction. The gateway is
    chosen now: Stripe when ``STRIPE_SECRET_KEY`` is set, otherwise the offline
    bank transfer; every deal gets a payment reference for bank transfers.
    Licence deals record their terms (territory, field, start and end) from the listing.
    """
    now = now or utcnow()
    if listing.status != "published":
        raise Conflict(_("该挂牌当前不可交易"), status=listing.status)
    if buyer.id == listing.seller_id or (buyer.organization_id and buyer.organization_id == listing.organization_id):
        raise Conflict(_("不能购买本单位的挂牌"))
    if deal_type not in listing.deal_types:
        raise Conflict(_("该挂牌不提供此交易方式"), fields={"deal_type": _("可选：%(options)s", options=", ".join(listing.deal_types))})
    if not isinstance(price, int) or isinstance(price, bool) or price <= 0:
        raise ValidationError(_("成交价必须是正整数（分）"), {"price": _("必须为正整数")})
    ensure_seller_may_sell(listing)  # nobody buys from a blacklisted seller (issue 14), by any path
    # The rule book again, for the deal type bought (the register may have changed since review).
    rules.enforce(listing, "deal", deal_type=deal_type, today=local(now).date())
    config = current_app.config
    bps = fees.current_bps()  # fixed now: release and payout use the deal's rate (escrow.fees)
    deal = Deal(
        listing=listing, buyer_id=buyer.id, seller_id=listing.seller_id, organization_id=listing.organization_id,
        deal_type=deal_type, source=source, source_id=source_id, price=price,
        fee=platform_fee(price, bps), fee_bps=bps,
        currency=listing.currency, state="awaiting_payment", created_at=now, updated_at=now,
        gateway="stripe" if config.get("STRIPE_SECRET_KEY") else "offline",
        payment_due_at=now + timedelta(days=config["PAYMENT_DAYS"]),
    )
    if deal_type != "assignment":
        deal.license_territory = listing.license_territory or "中国大陆"
        deal.license_field = listing.license_field or "不限"
        deal.license_start = (now + timedelta(hours=8)).date()
        years = listing.license_years or 3
        start = deal.license_start
        try:
            deal.license_end = start.replace(year=start.year + years)
        except ValueError:  # 29 February
            deal.license_end = start.replace(year=start.year + years, day=28)
    db.session.add(deal)
    if reserves_listing(deal):
        lifecycle.transition(listing, "reserve")
    db.session.flush()
    deal.payment_reference = references.payment_reference(deal.id)
    contracts.generate(deal, now=now)  # issue 15: the contract both parties sign before paying
    _event(deal, "open", actor or buyer, now, msg(SOURCE_LABELS[source]) if source in SOURCE_LABELS else source,
           to_state="awaiting_payment", from_state=None)
    db.session.flush()
    _tell(deal, [deal.buyer_id], deal_title(deal, N_("交易已创建，请付款")),
          msg(N_("请在 %(due)s 前支付 %(amount)s，逾期交易将自动取消。"), due=moment(deal.payment_due_at),
              amount=money(price, deal.currency)))
    _tell(deal, [deal.seller_id], deal_title(deal, N_("您的挂牌已成交，等待买方付款")),
          msg(N_("《%(title)s》以 %(amount)s 成交，买方付款到账后请办理变更手续。"), title=listing.title,
              amount=money(price, deal.currency)))
    # Annuities or renewals due before the transfer deadline: both parties are told now.
    horizon = local(deal.payment_due_at + timedelta(days=config["TRANSFER_DAYS"])).date()
    due = rules.fee_due_flags(listing, horizon)
    if due:
        text = rules.fee_due_message(due, stored=True)
        _event(deal, "fee_due", None, now, text)
        _tell(deal, [deal.buyer_id, deal.seller_id], deal_title(deal, N_("注意：权利维持费用将在办理期间到期")), text)
    db.session.flush()
    return deal


def licences_to_acknowledge(deal):
    """Licences in force that survive an assignment (the buyer must acknowledge them before paying)."""
    if deal.deal_type != "assignment":
        return []
    today = local(utcnow()).date()
    return [(right, lic) for right in deal.listing.rights for lic in right.licences_in_force(today)]


def acknowledge_licences(deal_id, actor, now=None):
    """The buyer of an assignment acknowledges the licences that survive it (转让不破许可)."""
    now = now or utcnow()
    deal, _row = _begin(deal_id, "pay", actor)
    if deal.licences_acknowledged_at is None:
        deal.licences_acknowledged_at = now
        _record(deal, "acknowledge_licences", deal.state, actor, now,
                note=msg(N_("知悉在先许可：%(licences)s"), licences=[
                    msg("%(number)s %(party)s %(type)s", number=r.number, party=lic.party_name or "",
                        type=label(LICENCE_TYPE.get(lic.licence_type, lic.licence_type)))
                    for r, lic in licences_to_acknowledge(deal)]) if licences_to_acknowledge(deal) else None)
    return deal


# --- paying ---------------------------------------------------------------------------

def start_payment(deal_id, actor, now=None):
    """The buyer starts (or restarts) paying: returns the gateway's instructions (docs/api.md /deals/{id}/pay).

    Commits the attempt (checked under the deal's lock) before asking the gateway."""
    now = now or utcnow()
    deal, _row = _begin(deal_id, "pay", actor)
    contracts.ensure_signed(deal)  # payment is due only once both parties have signed
    if deal.licences_acknowledged_at is None and licences_to_acknowledge(deal):
        raise Conflict(_("该权利有在先许可在有效期内，转让后继续有效：请先在交易页确认知悉后再付款"),
                       code_hint="acknowledge_licences")
    attempt = 1 + db.session.execute(
        select(func.count(DealEvent.id)).where(DealEvent.deal_id == deal.id, DealEvent.action == "pay")
    ).scalar_one()
    _record(deal, "pay", deal.state, actor, now,
            note=msg(N_("%(gateway)s 第 %(n)s 次"), gateway=label(gateways.label(deal.gateway)), n=attempt))
    # The attempt is committed and the deal's lock released before the provider is asked (issue 15):
    # no gateway call while a deal row is locked. The gateway's own record of the PaymentIntent
    # (``StripePaymentIntent``) is written in the caller's next transaction, which it commits.
    db.session.commit()
    return get_gateway(deal.gateway).start_payment(db.session.get(Deal, deal_id), attempt)


def _fund(deal, amount, gateway_name, reference, actor, now):
    ledger.post(f"deal:{deal.id}:fund", "fund",
                [Leg(ledger.clearing_account(gateway_name), -amount), Leg("escrow", amount)],
                deal=deal, currency=deal.currency, memo=msg(N_("买方付款进入托管")), reference=reference, actor=actor, now=now)
    deposits.apply_to_deal(deal, actor, now)  # a won auction's deposit joins the balance in escrow
    deal.funded_at = now
    deal.transfer_due_at = now + timedelta(days=current_app.config["TRANSFER_DAYS"])
    if deal.licences_acknowledged_at is None and licences_to_acknowledge(deal):
        # Paid by bank transfer without the acknowledgement the pay page asks for: an operator follows up.
        _flag(deal, msg(N_("买方付款前未确认知悉在先许可（转让后许可继续有效），请联系买方确认")), now)
    _record(deal, "confirm_payment", "funded", actor, now,
            note=msg("%(gateway)s %(reference)s", gateway=label(gateways.label(gateway_name)),
                     reference=reference or ""))
    _tell(deal, [deal.buyer_id], deal_title(deal, N_("付款已到账，资金由平台托管")),
          msg(N_("%(amount)s 已进入托管账户；卖方将办理权利变更，登记完成后您有验收期。"),
              amount=money(amount, deal.currency)))
    _tell(deal, [deal.seller_id], deal_title(deal, N_("买方款项已托管，请办理变更手续")),
          msg(N_("请在 %(due)s 前向国家知识产权局提交变更申请，并上传受理回执。"), due=moment(deal.transfer_due_at)))


def confirm_offline_payment(deal_id, reference, amount, actor, now=None):
    """An operator confirms a bank transfer's receipt by its reference and amount; the deal is funded.

    A wrong reference or amount is refused with the reason (422). Confirming a deal
    that is already funded with the same reference and amount is ignored: nothing is
    booked twice and the deal is returned unchanged.
    """
    now = now or utcnow()
    deal, row = _begin(deal_id, "confirm_payment", actor)
    if deal.gateway != "offline":
        raise Conflict(_("本交易通过在线支付付款，到账由支付通道自动确认"), gateway=deal.gateway)
    if row.to != machine.IGNORED:
        contracts.ensure_signed(deal)
    errors = {}
    ref = references.normalise(reference)
    if not ref:
        errors["reference"] = _("请填写银行回单上的付款参考号")
    elif not references.is_valid(ref):
        errors["reference"] = _("参考号格式或校验位不正确（形如 IPM0000004205），请核对回单")
    elif ref != deal.payment_reference:
        errors["reference"] = _("参考号 %(ref)s 不属于本交易（本交易为 %(own)s）", ref=ref, own=deal.payment_reference)
    if not isinstance(amount, int) or isinstance(amount, bool):
        errors["amount"] = _("到账金额须为整数（分）")
    elif amount != deal.amount_due:
        errors["amount"] = _("到账金额 %(amount)s 与应付金额 %(due)s 不符；请退回或联系买方补足",
                             amount=display_yuan(amount, deal.currency), due=display_yuan(deal.amount_due, deal.currency))
    if errors:
        raise ValidationError(_("到账信息与本交易不符，未确认"), errors)
    if row.to == machine.IGNORED:
        return deal
    _fund(deal, amount, "offline", ref, actor, now)
    return deal


def record_gateway_payment(deal_id, amount, currency, gateway, provider_ref, now=None):
    """A gateway (the Stripe webhook) reports the buyer's payment: fund the deal, once.

    Idempotent by the ledger key ``deal:{id}:fund``: a replay books nothing and
    returns the deal. A payment of the wrong amount or currency, or one that reaches
    a cancelled or refunded deal, flags the deal for an operator and raises
    ``PaymentMismatch`` (nothing booked).
    """
    now = now or utcnow()
    deal = lock_deal(deal_id)
    if ledger.find_entry(f"deal:{deal.id}:fund") is not None:
        return deal
    if machine.allowed(deal.state, "confirm_payment", {"system"}) is None:
        reason = msg(N_("%(gateway)s 付款 %(ref)s 到达时交易已“%(state)s”，需将款项退还买方"), gateway=gateway,
                     ref=provider_ref, state=label(machine.STATE_LABELS[deal.state]))
        _flag(deal, reason, now)
        raise PaymentMismatch(str(reason), state=deal.state)
    currency = (currency or "").upper()
    if amount != deal.amount_due or currency != deal.currency:
        reason = msg(N_("%(gateway)s 付款 %(ref)s 金额 %(amount)s 与应付 %(due)s 不符"), gateway=gateway,
                     ref=provider_ref, amount=f"{amount} {currency}", due=money(deal.amount_due, deal.currency))
        _flag(deal, reason, now)
        raise PaymentMismatch(str(reason), expected_amount=deal.amount_due, received_amount=amount)
    if not contracts.fully_signed(deal):  # issue 15: payment is due only under a contract both signed
        reason = msg(N_("%(gateway)s 付款 %(ref)s 到达时合同尚未由双方签署，未入账；签署后由运营确认到账或退还买方"),
                     gateway=gateway, ref=provider_ref)
        _flag(deal, reason, now)
        raise PaymentMismatch(str(reason), state=deal.state)
    row = machine.check(deal.state, "confirm_payment", {"system"})
    if row.to == machine.IGNORED:
        return deal
    _fund(deal, amount, gateway, provider_ref, None, now)
    return deal


# --- transfer milestones -----------------------------------------------------------------

def _store_document(deal, kind, file_storage, actor, now):
    stored, file_type, size, original = save_upload(file_storage, field="document", area="deals")
    document = Document(deal_id=deal.id, kind=kind, stored_name=stored, file_type=file_type, size=size,
                        original_name=original, uploaded_by_id=actor.id, created_at=now)
    db.session.add(document)
    db.session.flush()
    return document


def file_transfer(deal_id, actor, document, note=None, now=None):
    """The seller uploads the CNIPA filing receipt (受理通知书): transfer filed."""
    now = now or utcnow()
    deal, _row = _begin(deal_id, "file_transfer", actor)
    doc = _store_document(deal, "filing_receipt", document, actor, now)
    deal.filed_at = now
    _record(deal, "file_transfer", "transfer_filed", actor, now, note=_note(note), document=doc)
    _tell(deal, [deal.buyer_id], deal_title(deal, N_("卖方已向国家知识产权局提交变更申请")),
          msg(N_("受理回执已上传，可在交易页查看。登记完成后卖方将上传核准通知。")))
    return deal


def record_transfer(deal_id, actor, document, note=None, now=None, details=None):
    """The seller uploads the approval notice with its details (``escrow.recordal.submit``): an operator
    checks them, and only that check records the transfer and opens the buyer's inspection window."""
    from . import recordal

    return recordal.submit(deal_id, actor, document, details, note=note, now=now)


def _note(note):
    note = note.strip() if isinstance(note, str) else ""
    return note[:1000] or None


# --- release, payout -----------------------------------------------------------------------

def accept(deal_id, actor, now=None):
    """The buyer accepts the recorded transfer: the money is released to the seller."""
    now = now or utcnow()
    deal, _row = _begin(deal_id, "accept", actor)
    _release(deal, deal.price, actor, now, "accept")
    return deal


def lapse_inspection(deal_id, now=None):
    """The inspection window ended without acceptance or dispute: release (the system acts)."""
    now = now or utcnow()
    deal, row = _begin(deal_id, "lapse_inspection", None)
    _check_guard(deal, row, now)
    _release(deal, deal.price, None, now, "lapse_inspection")
    return deal


def _release(deal, seller_share, actor, now, action, note=None):
    """Book the seller's share and the fee out of escrow, move to released, start the payout."""
    fee = fees.deal_fee(deal, seller_share)
    # innovation vouchers the seller set aside for the fee are booked now, up to the fee (finance.deal_fees)
    credit = _fee_vouchers().on_release(deal, fee, actor, now)
    net = seller_share - fee + credit
    ledger.post(release_key(deal), "release",
                [Leg("escrow", -seller_share), Leg("seller_payable", net), Leg("platform_revenue", fee - credit)],
                deal=deal, currency=deal.currency, memo=msg(N_("托管资金放款：卖方应收与平台服务费")), actor=actor, now=now)
    deal.fee = fee
    deal.payout_amount = net
    deal.released_at = now
    _record(deal, action, "released", actor, now, note=note)
    if credit:
        body = msg(N_("应付您 %(net)s（已扣平台服务费 %(fee)s，其中创新券支付 %(credit)s），付款处理中。"),
                   net=money(net, deal.currency), fee=money(fee, deal.currency), credit=money(credit, deal.currency))
    else:
        body = msg(N_("应付您 %(net)s（已扣平台服务费 %(fee)s），付款处理中。"), net=money(net, deal.currency),
                   fee=money(fee, deal.currency))
    _tell(deal, [deal.seller_id], deal_title(deal, N_("款项已放款")), body)
    _tell(deal, [deal.buyer_id], deal_title(deal, N_("交易款项已放给卖方")), msg(N_("感谢使用知产超市。")))
    _start_payout(deal, now)


def _fee_vouchers():
    """Innovation vouchers on the deal's fee (``finance.deal_fees``). The finance desk depends on escrow (its
    ledger, its deals), so escrow reaches it only inside a function, at release and at close."""
    from finance import deal_fees

    return deal_fees


def _start_payout(deal, now):
    """The intent to pay the seller, recorded under the deal's lock (``payout_status = 'requested'``, key
    ``deal:{id}:payout``); the gateway is asked after the commit (``escrow.gateway_calls``): a Connect
    transfer, or for a seller without a connected account an instruction (``pending``). A bank-transfer deal
    has no provider to call: its payout is at once an instruction in the payout queue, which an operator
    completes by paying into the verified payout account (the offline gateway only words it: no I/O)."""
    if not deal.payout_amount:
        deal.payout_status = "paid"
        _complete(deal, None, now, note=msg(N_("无应付卖方款项")))
        return
    if deal.gateway == "offline":  # no provider to call: the payout queue's instruction is the payout
        book_payout_result(deal, get_gateway("offline").payout(deal, deal.payout_amount, f"deal:{deal.id}:payout"),
                           now)
        return
    deal.payout_status = "requested"
    gateway_calls.after_commit("deal_payout", deal.id, now)


def book_payout_result(deal, result, now):
    """Book the gateway's answer to the payout call (deal locked, payout ``requested`` or ``failed``)."""
    if result.ok and not result.pending:
        if machine.allowed(deal.state, "payout_paid", {"system"}) is None:
            # the deal moved on meanwhile (a rights claim upheld: stop_for_upheld_claim): the transfer went
            # out all the same; operators settle it with the seller
            _flag(deal, msg(N_("%(flag)s：转账 %(ref)s 已完成，但交易已“%(state)s”，需运营人员处理"),
                            flag=label(gateway_calls.PAYOUT_FLAG), ref=result.reference,
                            state=label(machine.STATE_LABELS[deal.state])), now)
            deal.payout_reference = result.reference
            return "payout sent to a stopped deal"
        _book_payout(deal, result.reference, None, now)
        if deal.flagged and deal.flagged.startswith(gateway_calls.PAYOUT_FLAG):
            deal.flagged = None
        return "payout booked"
    if result.ok:  # an instruction: an operator pays by bank into the verified account (escrow.payouts)
        deal.payout_status = "pending"
        deal.payout_reference = result.reference
        db.session.flush()
        _tell(deal, _operators(), deal_title(deal, N_("待向卖方付款")),
              msg(N_("请向卖方支付 %(amount)s 后在运营后台登记银行流水号。"),
                  amount=money(deal.payout_amount, deal.currency)))
        return "payout pending"
    deal.payout_status = "failed"  # failed or unknown: reconciled (transfer lookup) before any retry
    deal.flagged = f"{gateway_calls.PAYOUT_FLAG}：{result.message}"[:200]
    _event(deal, "payout_failed", None, now, result.message or "")
    db.session.flush()
    _tell(deal, _operators(), deal_title(deal, N_("向卖方转账结果未知，需对账")),
          msg(N_("%(reason)s。支付通道可能已完成转账：系统将按幂等键和转账组向支付通道核实后重试（flask deadlines run），"
                 "已转账的直接入账，不会重复付款；核实完成前不能手工登记付款。"), reason=result.message or ""))
    return "payout unknown"


def mark_payout_paid(deal_id, reference, actor, now=None):
    """An operator records the bank transfer to the seller (``actor=None``: the gateway confirmed it).

    The deal completes and the listing is sold. Repeating it after completion is ignored. While a gateway
    payout is outstanding (``requested``: sent, or its outcome unknown), nobody may record one by hand:
    reconciliation (``escrow.gateway_calls.send_deal_payout``) settles it first, so the seller is never
    paid twice.
    """
    now = now or utcnow()
    deal, row = _begin(deal_id, "payout_paid", actor)
    reference = reference.strip() if isinstance(reference, str) else ""
    if not reference:
        raise ValidationError(_("请填写付款的银行流水号"), {"reference": _("必填")})
    if len(reference) > 100:
        raise ValidationError(_("流水号过长"), {"reference": _("不超过 100 个字符")})
    if row.to == machine.IGNORED:
        return deal
    if actor is not None and deal.payout_status in ("requested", "failed") and deal.gateway != "offline":
        raise Conflict(_("向卖方的款项由支付通道转账（结果待核实）：系统对账完成前不能手工登记付款，以免重复付款"),
                       payout_status=deal.payout_status)
    if actor is not None:  # a bank transfer recorded by an operator: only into a verified account
        _bank_payout_account(deal, reference, now)
    _book_payout(deal, reference, actor, now)
    return deal


def _bank_payout_account(deal, reference, now):
    """A bank payout goes only into the payee's verified account, past any hold, under a bank reference
    never used before (escrow.payouts, escrow.refunds); raises (nothing booked) otherwise."""
    from . import payouts, refunds

    account = payouts.require_payable_account(deal, now)
    refunds.ensure_reference_unused(reference)
    deal.payout_account_id = account.id


def record_gateway_payout(deal_id, provider_ref, now=None):
    """A gateway confirms the payout transfer (webhook); same as an operator marking it paid."""
    return mark_payout_paid(deal_id, provider_ref, None, now=now)


def _book_payout(deal, reference, actor, now):
    ledger.post(f"deal:{deal.id}:payout", "payout",
                [Leg("seller_payable", -deal.payout_amount), Leg("seller_payouts", deal.payout_amount)],
                deal=deal, currency=deal.currency, memo=msg(N_("向卖方付款")), reference=reference, actor=actor, now=now)
    deal.payout_status = "paid"
    deal.payout_reference = reference
    deal.payout_paid_at = now
    _complete(deal, actor, now, note=reference)


def _complete(deal, actor, now, note=None):
    _record(deal, "payout_paid", "completed", actor, now, note=note)
    deal.closed_at = now
    _listing_sold(deal)
    _tell(deal, [deal.seller_id], deal_title(deal, N_("款项已支付，交易完成")),
          msg(N_("%(amount)s 已付至您的账户。"), amount=money(deal.payout_amount or 0, deal.currency)))
    _tell(deal, [deal.buyer_id], deal_title(deal, N_("交易完成")), msg(N_("权利变更已登记，款项已结清。")))


# --- refunds ---------------------------------------------------------------------------------

def _refund(deal, amount, actor, now, reason=None):
    """Return ``amount`` of the escrow to the buyer: the intent, under the deal's lock.

    One rule for every gateway: the amount moves escrow → refunds_in_transit (``refund_requested``) now,
    and is booked to buyer_refunds only when the money has reached the buyer (``_confirm_refund``). By
    card, the refund is asked of the gateway after the commit (``escrow.gateway_calls``, key
    ``deal:{id}:refund``) and confirmed by its answer or its webhook; by bank transfer it is an
    instruction in the refund queue, booked when the operator records the bank's reference
    (``escrow.refunds``). A won auction's deposit part goes back through the deposit's own payment.
    """
    amount = deposits.refund_applied_deposit(deal, amount, actor, now, reason or _refund_reason(deal))
    if not amount:
        return
    ledger.post(f"deal:{deal.id}:refund_requested", "refund_requested",
                [Leg("escrow", -amount), Leg("refunds_in_transit", amount)],
                deal=deal, currency=deal.currency, memo=msg(N_("退款已发起，等待到账确认")), actor=actor, now=now)
    deal.refund_amount = amount
    deal.refund_reference = None
    if deal.gateway == "offline":
        from . import refunds

        deal.refund_status = "pending"
        refunds.open_instruction(deal, amount, reason or _refund_reason(deal), now)
        return
    deal.refund_status = "requested"
    gateway_calls.after_commit("deal_refund", deal.id, now)


def book_refund_result(deal, result, now):
    """Book the gateway's answer to the refund call (deal locked, refund ``requested`` or ``failed``)."""
    if not result.ok:
        deal.refund_status = "failed"  # the money stays in transit; the sweep sends it again, same key
        _flag(deal, msg(N_("退款未能发起：%(reason)s，将自动重试"),
                        reason=result.message or msg(N_("支付通道拒绝"))), now)
        return "refund not sent"
    deal.refund_reference = result.reference
    if result.pending:
        deal.refund_status = "pending"
        db.session.flush()
        return "refund pending"
    if ledger.find_entry(f"deal:{deal.id}:refund") is None:
        _confirm_refund(deal, deal.refund_amount, result.reference, None, now)
    deal.refund_status = "refunded"
    db.session.flush()
    return "refund booked"


def record_gateway_refund(deal_id, amount, provider_ref, now=None):
    """A gateway confirms a refund it had accepted as pending: book it (once, key ``deal:{id}:refund``)."""
    now = now or utcnow()
    deal = lock_deal(deal_id)
    if ledger.find_entry(f"deal:{deal.id}:refund") is not None:
        return deal
    if ledger.find_entry(f"deal:{deal.id}:refund_requested") is None:
        raise Conflict(_("该交易没有待确认的退款"), state=deal.state)
    if amount != deal.refund_amount:
        reason = msg(N_("退款 %(ref)s 金额 %(amount)s 与发起的 %(asked)s 不符"), ref=provider_ref,
                     amount=money(amount, deal.currency), asked=money(deal.refund_amount or 0, deal.currency))
        _flag(deal, reason, now)
        raise PaymentMismatch(str(reason), expected_amount=deal.refund_amount, received_amount=amount)
    _confirm_refund(deal, amount, provider_ref, None, now)
    return deal


def _confirm_refund(deal, amount, reference, actor, now):
    """The refund in transit reached the buyer: book it (refunds_in_transit → buyer_refunds), once."""
    ledger.post(f"deal:{deal.id}:refund", "refund",
                [Leg("refunds_in_transit", -amount), Leg("buyer_refunds", amount)],
                deal=deal, currency=deal.currency, memo=msg(N_("退款已到账")), reference=reference, actor=actor, now=now)
    deal.refund_status = "refunded"
    deal.refund_reference = reference
    if actor is not None and actor.has_role("operator"):
        audit.record(actor, "deal.refund_confirmed", "deal", deal.id, {"refund_status": "pending"},
                     {"refund_status": "refunded", "reference": reference})
    _event(deal, "refund_confirmed", actor, now, reference)
    db.session.flush()
    _tell(deal, [deal.buyer_id], deal_title(deal, N_("退款已到账")),
          msg(N_("%(amount)s 已退回。"), amount=money(amount, deal.currency)))


def _refund_reason(deal):
    if deal.state == "funded":
        return msg(N_("卖方逾期未提交变更申请，交易取消，全额退款"))
    if deal.resolution == "split":
        return msg(N_("争议裁决：按比例分配，退还买方部分"))
    return msg(N_("争议裁决：退款"))


# --- cancelling ------------------------------------------------------------------------------

def cancel_deal(deal_id, actor, reason=None, now=None):
    """Cancel: before payment (buyer or operator) → cancelled; after payment only when the seller
    missed the transfer deadline (buyer or operator) → full refund. The listing goes back on the market
    (or expires, for a won auction: see ``_listing_back_on_market``). The buyer cancelling before
    paying is a strike against them (``escrow.strikes``).
    """
    now = now or utcnow()
    deal, row = _begin(deal_id, "cancel", actor)
    _check_guard(deal, row, now)
    unpaid_by_buyer = (deal.state == "awaiting_payment" and actor is not None and actor.id == deal.buyer_id
                       and contracts.unpaid_lapse_is_buyers_fault(deal))
    if row.to == "refunded":
        _refund(deal, deal.price, actor, now)
    _close_unsold(deal, "cancel", row.to, actor, now, _note(reason))
    if row.to == "cancelled":  # a won auction's deposit: forfeited when the winner walks away, else returned
        deposits.unpaid_deal_closed(deal, unpaid_by_buyer, actor, now)
    if unpaid_by_buyer:
        strikes.count_unpaid(deal, now)  # a reservation the buyer let go of unpaid counts against them
    return deal


def expire_unpaid(deal_id, now=None):
    """The payment deadline passed without payment: cancel (the system acts)."""
    now = now or utcnow()
    deal, row = _begin(deal_id, "expire_payment", None)
    _check_guard(deal, row, now)
    signed = contracts.fully_signed(deal)
    _close_unsold(deal, "expire_payment", "cancelled", None, now,
                  msg(N_("付款期限届满")) if signed else msg(N_("合同签署期限届满")))
    buyers_fault = contracts.unpaid_lapse_is_buyers_fault(deal)
    # the winner did not sign or pay in time: the deposit is forfeited (returned when the seller never signed)
    deposits.unpaid_deal_closed(deal, buyers_fault, None, now)
    if buyers_fault:
        strikes.count_unpaid(deal, now)  # issue 14: a lapsed reservation counts against the buyer
    return deal


def _close_unsold(deal, action, to_state, actor, now, note):
    _fee_vouchers().on_close(deal, actor, now)  # vouchers set aside for the fee go back to the seller's voucher
    _record(deal, action, to_state, actor, now, note=note)
    deal.closed_at = now
    _listing_back_on_market(deal)
    text = N_("交易已取消") if to_state == "cancelled" else N_("交易已取消，款项全额退还买方")
    _tell(deal, [deal.buyer_id, deal.seller_id], deal_title(deal, text), note or "")


# --- disputes ----------------------------------------------------------------------------------

def open_dispute(deal_id, actor, reason, now=None):
    """The buyer or the seller opens a dispute (from funded until release); an operator will resolve it."""
    now = now or utcnow()
    deal, _row = _begin(deal_id, "dispute", actor)
    reason = (reason or "").strip() if isinstance(reason, str) else ""
    if len(reason) < 5:
        raise ValidationError(_("请说明争议原因"), {"reason": _("至少 5 个字")})
    if len(reason) > 2000:
        raise ValidationError(_("争议原因过长"), {"reason": _("不超过 2000 个字")})
    deal.dispute_reason = reason
    deal.disputed_by_id = actor.id
    deal.disputed_from = deal.state
    _record(deal, "dispute", "disputed", actor, now, note=reason)
    other = deal.seller_id if actor.id == deal.buyer_id else deal.buyer_id
    _tell(deal, [other], deal_title(deal, N_("对方提出了争议")), reason)
    _tell(deal, _operators(), deal_title(deal, N_("新的交易争议待处理")), reason)
    return deal


RESOLUTIONS = {"release": "resolve_release", "refund": "resolve_refund", "split": "resolve_split"}


def resolve_dispute(deal_id, actor, outcome, seller_share=None, note=None, now=None):
    """An operator resolves a dispute: ``release`` (all to the seller), ``refund`` (all back to the
    buyer) or ``split`` (``seller_share`` fen of the price to the seller, the fee charged on that
    share, the rest refunded to the buyer).
    """
    now = now or utcnow()
    action = RESOLUTIONS.get(outcome) if isinstance(outcome, str) else None
    deal, _row = _begin(deal_id, action or "resolve_release", actor)
    if action is None:
        raise ValidationError(_("裁决结果无效"), {"outcome": _("可选：release、refund、split")})
    note = _note(note)
    if outcome == "split":
        if not isinstance(seller_share, int) or isinstance(seller_share, bool) \
                or not 0 < seller_share < deal.price:
            raise ValidationError(_("分配金额无效"), {
                "seller_share": _("卖方所得须大于 0 且小于成交价 %(price)s（单位：分）",
                                  price=display_yuan(deal.price, deal.currency))})
    deal.resolution = outcome
    if outcome in ("refund", "split") and deal.recorded_at is not None:
        # CNIPA already recorded the transfer: the escrow holds the money until the transfer back.
        deal.split_share = seller_share if outcome == "split" else None
        _record(deal, "transfer_back", "transfer_back", actor, now, note=note)
        _tell(deal, [deal.buyer_id, deal.seller_id], deal_title(deal, N_("裁决退款，须先办理回转登记")),
              msg(N_("变更已在国家知识产权局登记，退款前须将权利回转登记给卖方；回转登记后请上传通知书，由平台运营确认。")))
        return deal
    if outcome == "release":
        _release(deal, deal.price, actor, now, action, note=note)
    elif outcome == "refund":
        _refund(deal, deal.price, actor, now)
        _close_unsold(deal, action, "refunded", actor, now, note or msg(N_("争议裁决：全额退款")))
    else:
        refund = deal.price - seller_share
        _refund(deal, refund, actor, now)
        text = msg(N_("争议裁决：卖方 %(share)s，退还买方 %(refund)s"), share=money(seller_share, deal.currency),
                   refund=money(refund, deal.currency))
        _release(deal, seller_share, actor, now, action,
                 note=msg(N_("%(decision)s。%(note)s"), decision=text, note=note) if note else text)
    return deal


def confirm_reversal(deal_id, actor, note=None, now=None):
    """An operator confirms the transfer back (回转登记) was recorded: the register follows and the
    decided refund (or split) is paid out of the escrow."""
    now = now or utcnow()
    deal, _row = _begin(deal_id, "confirm_reversal", actor)
    note = _note(note)
    register.reverse_recorded_transfer(deal, actor, now=now)
    if deal.resolution == "split" and deal.split_share:
        refund = deal.price - deal.split_share
        _refund(deal, refund, actor, now)
        _release(deal, deal.split_share, actor, now, "confirm_reversal", note=note or msg(N_("回转登记完成，按裁决分配")))
        return deal
    _refund(deal, deal.price, actor, now)
    _close_unsold(deal, "confirm_reversal", "refunded", actor, now, note or msg(N_("回转登记完成，全额退款")))
    return deal


# --- a claim to the right was upheld (issue 13) ---------------------------------------------------

def deals_on_right(right_id, listing_ids):
    """Ids of the deals on the listings ``listing_ids`` that offer register entry ``right_id`` and that a
    claim upheld must stop or flag: every deal not cancelled or refunded (running, released, completed)."""
    if not listing_ids:
        return []
    return list(db.session.scalars(
        select(Deal.id).join(ListingRight, ListingRight.listing_id == Deal.listing_id)
        .where(ListingRight.right_id == right_id, Deal.listing_id.in_(tuple(listing_ids)),
               Deal.state.notin_(("cancelled", "refunded"))).order_by(Deal.id)))


def stop_for_upheld_claim(deal_id, note, now=None):
    """An operator upheld a claim to a right this deal trades: the deal must not go on (the system acts,
    ``machine.TABLE`` rows ``claim_upheld``). Unpaid → cancelled (no strike against the buyer); paid →
    disputed, the money stays in escrow until an operator resolves the dispute. Both parties and the
    operators are told. Nothing is booked."""
    now = now or utcnow()
    deal, row = _begin(deal_id, "claim_upheld", None)
    note = note or ""  # a message (the operator's decision, ``listings.register.decide_claim``) or text
    if row.to == "cancelled":
        _close_unsold(deal, "claim_upheld", "cancelled", None, now, note)
        return deal
    if deal.state == "released" and deal.resolution == "split":
        # released after a split an operator already decided (the buyer's part refunded): flagged, the
        # operators review it before paying the seller
        _flag_for_claim(deal, msg(N_("权属异议成立（交易已按比例裁决放款），付款前请复核：%(note)s"), note=note), note, now)
        return deal
    if deal.state == "released":
        _hold_release(deal, note, now)
    if deal.state != "disputed":
        deal.disputed_from = deal.state
        deal.dispute_reason = str(note)[:1000]
        deal.disputed_by_id = None
    _record(deal, "claim_upheld", "disputed", None, now, note=note)
    _tell(deal, [deal.buyer_id, deal.seller_id], deal_title(deal, N_("权属异议成立，交易中止")),
          msg(N_("%(note)s。款项继续由平台托管，由平台运营裁决放款、退款或分配。"), note=note))
    _tell(deal, _operators(), deal_title(deal, N_("权属异议成立，托管款项待裁决")), note)
    return deal


def on_upheld_claim(deal_id, note, now=None):
    """A claim to a right this deal trades was upheld (``listings.register.decide_claim``): a completed deal
    is flagged to operators (``flag_completed_for_upheld_claim``), any other is stopped
    (``stop_for_upheld_claim``)."""
    deal = db.session.get(Deal, deal_id)
    if deal is not None and deal.state == "completed":
        return flag_completed_for_upheld_claim(deal_id, note, now=now)
    return stop_for_upheld_claim(deal_id, note, now=now)


def flag_completed_for_upheld_claim(deal_id, note, now=None):
    """The seller of a completed deal has been paid: nothing to hold, no transition (the state table has no
    row: a completed deal is final). The deal is flagged and the operators and the buyer told; the
    claimant's and the buyer's remedies lie against the seller."""
    now = now or utcnow()
    deal = lock_deal(deal_id)
    if deal.state != "completed":
        raise Conflict(_("交易未完成"), state=deal.state)
    _flag_for_claim(deal, msg(N_("权属异议成立，但交易已完成、款项已付卖方：%(note)s"), note=note or ""), note,
                    now)
    return deal


def _flag_for_claim(deal, flag, note, now):
    deal.flagged = str(flag)[:200]
    _event(deal, "claim_upheld", None, now, note or "")
    db.session.flush()
    _tell(deal, _operators(), deal_title(deal, N_("权属异议成立：款项已放出，需人工跟进")),
          msg(N_("%(note)s。款项已放给卖方，请联系双方处理（买方可向卖方追偿）。"), note=note or ""))
    _tell(deal, [deal.buyer_id], deal_title(deal, N_("权属异议成立")),
          msg(N_("%(note)s。本交易款项已放给卖方，平台运营将与您联系。"), note=note or ""))


def _hold_release(deal, note, now):
    """A claim upheld after release, before the seller was paid: the release is reversed (seller_payable and
    the fee back into escrow, key ``deal:{id}:release_held``, ``…:release_held:2`` … for each hold: ``_round_key``)
    and the payout blocked; an operator decides
    (release again, refund, split). A Connect payout whose outcome is unknown may have reached the seller:
    operators are told to reconcile it."""
    credit = _fee_vouchers().booked_credit(deal)  # the vouchers' part of the fee stays booked (finance.deal_fees)
    share = (deal.payout_amount or 0) + (deal.fee or 0) - credit
    ledger.post(_round_key(deal, "release_held"), "release_held",
                [Leg("seller_payable", -(deal.payout_amount or 0)), Leg("platform_revenue", -((deal.fee or 0) - credit)),
                 Leg("escrow", share)], deal=deal, currency=deal.currency,
                memo=msg(N_("权属异议成立：放款撤回，款项回到托管，待运营裁决")), now=now)
    _fee_vouchers().on_hold(deal)
    if deal.payout_status in ("requested", "failed") and deal.gateway != "offline":
        deal.flagged = f"{gateway_calls.PAYOUT_FLAG}：权属异议成立时向卖方的转账尚未确认，请先对账"[:200]
    deal.payout_status = None
    deal.released_at = None
    db.session.flush()


def release_key(deal):
    """The ledger key of the deal's release: each release after a hold (``_hold_release``) is its own."""
    return _round_key(deal, "release")


def _round_key(deal, name):
    """The ledger key of the deal's ``name`` entry (``release`` or ``release_held``) in the current round: a deal
    may be released, held back by an upheld claim, released again by an operator's decision, held back by
    another claim, and so on. Round 1 is ``deal:{id}:{name}``; after n holds, ``deal:{id}:{name}:{n + 1}``. A
    fixed key made the second hold a replay of the first: nothing was booked while the deal moved to disputed,
    and the money stayed with the seller (found by the escrow state machine, tests/invariants/test_regressions.py).
    The idempotency the key gives is kept: one round's entry is booked once, under the deal's row lock."""
    holds = db.session.scalar(select(func.count(JournalEntry.id)).where(
        JournalEntry.deal_id == deal.id, JournalEntry.kind == "release_held"))
    return f"deal:{deal.id}:{name}" + (f":{holds + 1}" if holds else "")


# --- deadlines ---------------------------------------------------------------------------------

def enforce_deal_deadlines(now):
    """Apply the deal deadlines due at ``now`` (``flask deadlines run``); safe to run twice.

    - unpaid past the payment deadline → cancelled, listing published again (expired, and
      relistable, when the deal came from an auction);
    - inspection window over → released (and the payout started);
    - transfer not filed within TRANSFER_DAYS → the buyer is told they may cancel for a full
      refund (once).

    A batch job rather than a request: each deal is its own transaction (committed here),
    so one deal that cannot move does not hold back the others.
    """
    report = {"deals_cancelled_unpaid": 0, "deals_released": 0, "transfers_overdue": 0}

    def each(query, step, key):
        for deal_id in db.session.execute(query).scalars().all():
            try:
                step(deal_id)
                db.session.commit()
                report[key] += 1
            except DomainError:  # moved on meanwhile (paid, disputed…): nothing to do
                db.session.rollback()

    each(select(Deal.id).where(Deal.state == "awaiting_payment", Deal.payment_due_at <= now).order_by(Deal.id),
         lambda deal_id: expire_unpaid(deal_id, now), "deals_cancelled_unpaid")
    each(select(Deal.id).where(Deal.state == "transfer_recorded", Deal.inspection_ends_at <= now).order_by(Deal.id),
         lambda deal_id: lapse_inspection(deal_id, now), "deals_released")
    each(select(Deal.id).where(Deal.state == "funded", Deal.transfer_due_at <= now,
                               Deal.transfer_overdue_notified_at.is_(None)).order_by(Deal.id),
         lambda deal_id: _transfer_overdue(deal_id, now), "transfers_overdue")
    return report


def _transfer_overdue(deal_id, now):
    deal = lock_deal(deal_id)
    if deal.state != "funded" or deal.transfer_overdue_notified_at is not None:
        raise Conflict(_("不再逾期"))
    deal.transfer_overdue_notified_at = now
    _event(deal, "transfer_overdue", None, now, msg(N_("期限 %(due)s"), due=moment(deal.transfer_due_at)))
    db.session.flush()
    _tell(deal, [deal.buyer_id], deal_title(deal, N_("卖方未按期提交变更申请")),
          msg(N_("您可以在交易页取消交易并获得全额退款，或继续等待。")))
    _tell(deal, [deal.seller_id], deal_title(deal, N_("变更申请已逾期")),
          msg(N_("买方现在可以取消交易并获得全额退款，请尽快提交变更申请。")))
