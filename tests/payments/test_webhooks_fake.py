"""Webhook paths localstripe cannot produce, against FakeStripeGateway with events signed by the test.

Connect payouts (localstripe has no transfers), refunds that stay pending and settle or fail
later (localstripe's refunds succeed at once and send no events), ``charge.refunded``, two
successful attempts for one deal, a payment reaching a cancelled deal, and a provider outage
while a webhook is being applied (503, so Stripe retries; nothing stored).
"""
import pytest

from escrow import deals, ledger
from escrow.webhook_models import ProcessedWebhookEvent
from marketplace.kernel.extensions import db
from tests import factories

from .conftest import WEBHOOK_SECRET, make_deal, refresh

WEBHOOK = "/api/v1/webhooks/stripe"


@pytest.fixture
def app_config():
    return {"STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET}


@pytest.fixture
def deliver(client, fake_stripe):
    """deliver(type, obj) signs an event like Stripe and POSTs it; returns (status, json)."""

    def _deliver(event_type, obj, event=None):
        event = event or fake_stripe.event(event_type, obj)
        body, signature = fake_stripe.signed(event, WEBHOOK_SECRET)
        r = client.post(WEBHOOK, data=body, headers={"Stripe-Signature": signature}, content_type="application/json")
        return r.status_code, r.get_json()

    return _deliver


def _funded_deal(fake, deliver, **kw):
    deal = make_deal(gateway="fake_stripe", **kw)
    pi_id = deals.start_payment(deal.id, deal.buyer)["payment_intent_id"]
    db.session.commit()
    pi = fake.confirm(pi_id)
    assert deliver("payment_intent.succeeded", pi)[1]["outcome"] == "funded"
    return refresh(deal), pi_id


def _operator():
    user = factories.make_user("operator")
    db.session.commit()
    return user


def test_release_pays_the_seller_by_connect_transfer(app, fake_stripe, deliver):
    deal, pi_id = _funded_deal(fake_stripe, deliver, price=100_000_00, stripe_account_id="acct_1Seller")
    deals.open_dispute(deal.id, deal.buyer, "验收意见需平台确认")
    deals.resolve_dispute(deal.id, _operator(), "release")
    db.session.commit()
    deal = refresh(deal)
    assert (deal.state, deal.payout_status) == ("completed", "paid")
    transfer = fake_stripe.fetch_transfer(deal.payout_reference)
    assert transfer["amount"] == deal.payout_amount == 100_000_00 - deal.fee
    assert transfer["destination"] == "acct_1Seller" and transfer["transfer_group"] == f"deal-{deal.id}"
    assert transfer["source_transaction"] == fake_stripe.fetch_payment_intent(pi_id)["latest_charge"]
    assert ledger.find_entry(f"deal:{deal.id}:payout").reference == transfer["id"]
    balances = ledger.deal_balances(deal)
    assert (balances["escrow"], balances["seller_payable"], balances["paid_out"]) == (0, 0, deal.payout_amount)


def test_release_without_connected_account_waits_for_an_operator(app, fake_stripe, deliver):
    deal, _pi = _funded_deal(fake_stripe, deliver)
    deals.open_dispute(deal.id, deal.buyer, "验收意见需平台确认")
    deals.resolve_dispute(deal.id, _operator(), "release")
    db.session.commit()
    deal = refresh(deal)
    assert (deal.state, deal.payout_status) == ("released", "pending")
    assert fake_stripe.transfers == {}


def test_pending_refund_is_booked_when_stripe_confirms_it_once(app, fake_stripe, deliver):
    deal, _pi = _funded_deal(fake_stripe, deliver, price=20_000_00)
    fake_stripe.refund_status = "pending"
    deals.open_dispute(deal.id, deal.buyer, "权利存在瑕疵")
    deals.resolve_dispute(deal.id, _operator(), "refund")
    db.session.commit()
    deal = refresh(deal)
    assert deal.refund_status == "pending" and ledger.find_entry(f"deal:{deal.id}:refund") is None
    refund = fake_stripe.fetch_refund(deal.refund_reference)
    # Stripe tells the news of the pending refund first: nothing to book yet
    assert deliver("refund.created", refund)[1]["outcome"] == f"noted: refund {refund['id']} pending"
    settled = fake_stripe.settle_refund(refund["id"])
    event = fake_stripe.event("refund.updated", settled)
    assert deliver(None, None, event) == (200, {"received": True, "event_id": event["id"],
                                                "outcome": f"refund confirmed: {refund['id']}"})
    assert deliver(None, None, event)[1]["outcome"] == "duplicate"
    # the same news again under another event id (charge.refunded): booked already, nothing more
    charge = {"id": settled["charge"], "object": "charge", "payment_intent": settled["payment_intent"]}
    assert deliver("charge.refunded", charge)[1]["outcome"] == f"refund confirmed: {refund['id']}"
    deal = refresh(deal)
    assert deal.refund_status == "refunded"
    assert [e.kind for e in ledger.deal_entries(deal.id)] == ["fund", "refund_requested", "refund"]
    assert ledger.deal_balances(deal)["refunded"] == 20_000_00


def test_a_failed_refund_is_flagged_for_an_operator(app, fake_stripe, deliver):
    deal, _pi = _funded_deal(fake_stripe, deliver)
    fake_stripe.refund_status = "pending"
    deals.open_dispute(deal.id, deal.buyer, "权利存在瑕疵")
    deals.resolve_dispute(deal.id, _operator(), "refund")
    db.session.commit()
    failed = fake_stripe.settle_refund(refresh(deal).refund_reference, "failed")
    status, body = deliver("refund.updated", failed)
    assert status == 200 and body["outcome"] == f"flagged: refund {failed['id']} failed"
    deal = refresh(deal)
    assert "失败" in deal.flagged and deal.refund_status == "pending"
    assert ledger.find_entry(f"deal:{deal.id}:refund") is None


def test_a_second_successful_attempt_is_flagged_not_booked(app, fake_stripe, deliver):
    deal = make_deal(gateway="fake_stripe")
    first = deals.start_payment(deal.id, deal.buyer)["payment_intent_id"]
    second = deals.start_payment(deal.id, deal.buyer)["payment_intent_id"]
    db.session.commit()
    assert first != second
    assert deliver("payment_intent.succeeded", fake_stripe.confirm(first))[1]["outcome"] == "funded"
    assert deliver("payment_intent.succeeded", fake_stripe.confirm(second))[1]["outcome"] == "flagged: paid twice"
    deal = refresh(deal)
    assert deal.state == "funded" and "重复付款" in deal.flagged
    assert ledger.deal_balances(deal)["escrow"] == deal.price


def test_a_payment_reaching_a_cancelled_deal_is_flagged(app, fake_stripe, deliver):
    deal = make_deal(gateway="fake_stripe")
    pi_id = deals.start_payment(deal.id, deal.buyer)["payment_intent_id"]
    deals.cancel_deal(deal.id, deal.buyer, "不想买了")
    db.session.commit()
    status, body = deliver("payment_intent.succeeded", fake_stripe.confirm(pi_id))
    assert status == 200 and body["outcome"].startswith("flagged:")
    deal = refresh(deal)
    assert deal.state == "cancelled" and deal.flagged
    assert ledger.find_entry(f"deal:{deal.id}:fund") is None


def test_provider_outage_answers_503_and_the_retry_applies(app, fake_stripe, deliver):
    deal = make_deal(gateway="fake_stripe")
    pi_id = deals.start_payment(deal.id, deal.buyer)["payment_intent_id"]
    db.session.commit()
    event = fake_stripe.event("payment_intent.succeeded", fake_stripe.confirm(pi_id))
    fake_stripe.outage = True
    status, body = deliver(None, None, event)
    assert status == 503 and body["error"]["code"] == "payment_provider_unavailable"
    assert db.session.query(ProcessedWebhookEvent).count() == 0 and refresh(deal).state == "awaiting_payment"
    fake_stripe.outage = False
    assert deliver(None, None, event)[1]["outcome"] == "funded"


def test_a_refund_of_no_deal_is_ignored(app, fake_stripe, deliver):
    status, body = deliver("refund.updated", {"id": "re_foreign", "object": "refund", "payment_intent": "pi_foreign",
                                              "status": "succeeded", "amount": 100})
    assert status == 200 and body["outcome"] == "ignored: refund belongs to no deal"
