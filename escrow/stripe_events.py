"""Applying Stripe's webhook events to deals: each event id once, decided on the provider's present state.

An event is a hint, not the truth: its snapshot may be stale (Stripe does not promise
order, and retries for days), so the PaymentIntent or refund it names is fetched
again and the decision is taken on what the provider says now. A replayed event id
finds its ``ProcessedWebhookEvent`` row and changes nothing; an event about an
object the app did not create belongs to no deal and is only logged.

Each handler first gathers (database reads and the provider round trip, no writes,
so no lock is held while Stripe answers), then returns the function that applies
what it found. The deal itself changes only through ``escrow.deals``
(``record_gateway_payment``, ``record_gateway_refund``), under the deal's row lock.
"""
import logging

from marketplace.kernel.errors import DomainError
from marketplace.kernel.extensions import db
from marketplace.kernel.i18n import N_
from marketplace.kernel.messages import msg
from marketplace.kernel.notify import notify
from marketplace.kernel.timeutil import utcnow

from . import deals, deposits, ledger
from .gateways import get_gateway
from .timeline import deal_title
from .webhook_models import ProcessedWebhookEvent, StripePaymentIntent

log = logging.getLogger(__name__)

PAYMENT_INTENT_EVENTS = ("payment_intent.succeeded", "payment_intent.payment_failed", "payment_intent.processing",
                         "payment_intent.canceled", "payment_intent.requires_action")
REFUND_EVENTS = ("refund.created", "refund.updated", "refund.failed", "charge.refund.updated")
CHARGE_REFUNDED = "charge.refunded"


def already_applied(event_id) -> bool:
    return db.session.query(ProcessedWebhookEvent.id).filter_by(
        provider="stripe", event_id=str(event_id)).first() is not None


def apply_stripe_event(event: dict) -> str:
    """Apply one verified event; return what happened (also stored with the event id).

    Flushes, never commits. A concurrent delivery of the same id makes the flush of
    the event row raise IntegrityError: the caller rolls back and answers 200.
    Raises PaymentProviderError when the provider cannot be asked: the caller rolls
    back (the event id is not stored) so that Stripe's retry is applied later.
    """
    event_id, event_type = str(event["id"]), str(event["type"])
    obj = (event.get("data") or {}).get("object") or {}
    if already_applied(event_id):
        log.info("stripe webhook %s (%s): already applied, ignored", event_id, event_type)
        return "duplicate"

    if event_type in PAYMENT_INTENT_EVENTS:
        apply = _on_payment_intent(event_type, obj)
    elif event_type in REFUND_EVENTS:
        apply = _on_refund(obj)
    elif event_type == CHARGE_REFUNDED:
        apply = _on_charge_refunded(obj)
    else:
        apply = _ignore("ignored: unhandled event type")

    record = ProcessedWebhookEvent(provider="stripe", event_id=event_id, event_type=event_type[:100],
                                   object_id=str(obj.get("id") or "")[:255] or None, outcome="received")
    db.session.add(record)
    db.session.flush()  # a concurrent duplicate fails here, before anything else is written
    outcome, deal_id = apply()
    log_level = logging.WARNING if outcome.startswith(("ignored", "flagged")) else logging.INFO
    log.log(log_level, "stripe webhook %s (%s) about %s, deal %s: %s", event_id, event_type, record.object_id,
            deal_id, outcome)
    record.outcome, record.deal_id = outcome[:200], deal_id
    db.session.flush()
    return outcome


def _ignore(outcome, deal_id=None):
    return lambda: (outcome, deal_id)


def _intent_row(payment_intent_id=None, charge_id=None):
    query = db.session.query(StripePaymentIntent)
    if payment_intent_id:
        return query.filter_by(payment_intent_id=str(payment_intent_id)).first()
    if charge_id:
        return query.filter_by(charge_id=str(charge_id)).first()
    return None


# --- PaymentIntents -------------------------------------------------------------------

def _on_payment_intent(event_type, obj):
    row = _intent_row(obj.get("id"))
    if row is None:
        return _ignore("ignored: PaymentIntent belongs to no deal")
    pi = get_gateway(row.gateway).fetch_payment_intent(row.payment_intent_id)  # now, not the event's snapshot
    if row.deposit_id is not None:
        return _on_deposit_intent(row, pi)
    deal_id = row.deal_id
    if pi["metadata"].get("deal_id") != str(deal_id):
        return _ignore(f"ignored: PaymentIntent metadata names deal {pi['metadata'].get('deal_id')!r}", deal_id)

    def apply():
        row.status = pi["status"] or row.status
        row.charge_id = pi["latest_charge"] or row.charge_id
        if pi["status"] == "succeeded":
            return _payment_succeeded(row, pi), deal_id
        if event_type == "payment_intent.payment_failed" and pi["status"] == "requires_payment_method":
            if row.deal.state != "awaiting_payment":  # an old attempt failing late: nothing to tell
                return f"noted: attempt {row.attempt} failed, deal already {row.deal.state}", deal_id
            _tell_buyer_payment_failed(row.deal, pi)
            return "buyer notified: payment failed", deal_id
        return f"noted: PaymentIntent {pi['status']}", deal_id

    return apply


def _payment_succeeded(row, pi):
    deal = deals.lock_deal(row.deal_id)
    funded = ledger.find_entry(f"deal:{deal.id}:fund")
    if funded is not None:
        if funded.reference == pi["id"]:
            return "already funded"
        reason = msg(N_("重复付款：%(first)s 与 %(second)s 均已付款，需退还其中一笔"), first=pi["id"],
                     second=funded.reference)
        _flag(deal, reason)
        return "flagged: paid twice"
    try:
        deals.record_gateway_payment(deal.id, pi["amount"], pi["currency"].upper(), row.gateway, pi["id"])
    except deals.PaymentMismatch as exc:  # escrow flagged the deal (wrong amount or currency, closed deal)
        return f"flagged: {exc.message}"
    except DomainError as exc:
        _flag(deal, msg(N_("Stripe 已收款 %(id)s，但交易无法入账：%(reason)s"), id=pi["id"], reason=exc.message))
        return f"flagged: {exc.message}"
    return "funded"


def _on_deposit_intent(row, pi):
    """An auction deposit's PaymentIntent (``escrow.deposits``): held once it succeeded; a second successful
    attempt is flagged for an operator to return."""
    if pi["metadata"].get("deposit_id") != str(row.deposit_id):
        return _ignore(f"ignored: PaymentIntent metadata names deposit {pi['metadata'].get('deposit_id')!r}")

    def apply():
        row.status = pi["status"] or row.status
        row.charge_id = pi["latest_charge"] or row.charge_id
        if pi["status"] != "succeeded":
            return f"noted: deposit PaymentIntent {pi['status']}", None
        funded = ledger.find_entry(f"deposit:{row.deposit_id}:fund")
        if funded is not None and funded.reference != pi["id"]:
            deposit = deposits.lock_deposit(row.deposit_id)
            deposits.flag(deposit, msg(N_("保证金重复付款：%(pi)s 与 %(reference)s 均已付款，需退还其中一笔"), pi=pi["id"], reference=funded.reference))
            return "flagged: deposit paid twice", None
        return deposits.record_gateway_payment(row.deposit_id, pi["amount"], pi["currency"].upper(), row.gateway,
                                               pi["id"]), None

    return apply


def _tell_buyer_payment_failed(deal, pi):
    reason = pi["failure_message"] or msg(N_("付款被拒绝"))  # the provider's words, or ours
    notify(deal.buyer_id, "deal", deal_title(deal, N_("付款未成功")),
           msg(N_("银行卡或钱包付款未成功（%(reason)s）。交易仍在等待付款，请重新付款或换一种付款方式。"), reason=reason),
           link=f"/deals/{deal.id}")


# --- refunds ------------------------------------------------------------------------------

def _on_refund(obj):
    row = _intent_row(obj.get("payment_intent"), obj.get("charge"))
    if row is None:
        return _ignore("ignored: refund belongs to no deal")
    refund = get_gateway(row.gateway).fetch_refund(str(obj["id"]))
    return lambda: (_apply_refund(row, refund), row.deal_id)


def _on_charge_refunded(obj):
    row = _intent_row(obj.get("payment_intent"), obj.get("id"))
    if row is None:
        return _ignore("ignored: charge belongs to no deal")
    refunds = get_gateway(row.gateway).list_refunds(row.payment_intent_id)
    return lambda: ("; ".join(_apply_refund(row, r) for r in refunds) or "noted: no refunds", row.deal_id)


def _apply_refund(row, refund):
    if refund["payment_intent"] not in (None, row.payment_intent_id):
        return f"ignored: refund {refund['id']} is not on this payment"
    if row.deposit_id is not None:  # a deposit's return, or its part of a deal's refund (escrow.deposits)
        if refund["status"] == "succeeded":
            return deposits.record_gateway_refund(row.deposit_id, refund["amount"], refund["id"])
        if refund["status"] in ("failed", "canceled"):
            deposits.flag(deposits.lock_deposit(row.deposit_id),
                           msg(N_("Stripe 退款 %(id)s 失败（%(status)s），需人工退款"), id=refund["id"], status=refund["status"]))
            return f"flagged: deposit refund {refund['id']} {refund['status']}"
        return f"noted: deposit refund {refund['id']} {refund['status']}"
    if refund["status"] == "succeeded":
        try:
            deals.record_gateway_refund(row.deal_id, refund["amount"], refund["id"])
        except deals.PaymentMismatch as exc:
            return f"flagged: {exc.message}"
        except DomainError as exc:
            _flag(deals.lock_deal(row.deal_id),
                  msg(N_("Stripe 退款 %(id)s 无法入账：%(reason)s"), id=refund["id"], reason=exc.message))
            return f"flagged: refund {refund['id']}: {exc.message}"
        return f"refund confirmed: {refund['id']}"
    if refund["status"] in ("failed", "canceled"):
        _flag(deals.lock_deal(row.deal_id), msg(N_("Stripe 退款 %(id)s 失败（%(status)s），需人工退款"),
                                                 id=refund["id"], status=refund["status"]))
        return f"flagged: refund {refund['id']} {refund['status']}"
    return f"noted: refund {refund['id']} {refund['status']}"


def _flag(deal, reason):
    """Ask an operator to look (escrow's flag: ``Deal.flagged``, a deal event, operators notified)."""
    deals._flag(deal, reason, utcnow())
