"""The card path end to end against localstripe: its own signed webhooks reach the running app.

The app creates the PaymentIntent (``escrow.deals.start_payment``); the test, playing the
buyer's browser, sets a test card and confirms it; localstripe signs
``payment_intent.succeeded`` and POSTs it about a second later to the live server; only
that funds the deal. Runs on SQLite (a file database) and, with TEST_DATABASE_URL, on
PostgreSQL. Duplicate and out-of-order delivery use localstripe's own signed payloads,
caught by ``captured_webhooks`` and delivered by the test in the order it chooses.
"""
import json
import time

import pytest
import requests

from escrow import deals, ledger
from escrow.gateways.fake import sign_payload
from escrow.models import Deal, DealEvent
from escrow.webhook_models import ProcessedWebhookEvent, StripePaymentIntent
from marketplace.kernel.extensions import db
from marketplace.kernel.models import Notification
from tests import factories

from .conftest import WEBHOOK_SECRET, make_deal, refresh, stripe_settings, wait_until

WEBHOOK = "/api/v1/webhooks/stripe"


@pytest.fixture
def app_config(localstripe):
    return stripe_settings(localstripe)


def _start(deal):
    instructions = deals.start_payment(deal.id, deal.buyer)
    db.session.commit()
    return instructions["payment_intent_id"]


def _confirm(stripe_client, pi_id, card="pm_card_visa"):
    """What Stripe.js does in the buyer's browser: attach the test card, confirm."""
    import stripe

    stripe_client.v1.payment_intents.update(pi_id, params={"payment_method": card})
    try:
        return stripe_client.v1.payment_intents.confirm(pi_id).status
    except stripe.CardError:
        return "declined"


def _events(deal_id=None, object_id=None):
    """Webhook events applied for a deal or about an object (localstripe is shared by the session's tests,
    so a late event of an earlier test may reach this test's server: it belongs to no deal here)."""
    db.session.expire_all()
    query = db.session.query(ProcessedWebhookEvent).order_by(ProcessedWebhookEvent.id)
    if deal_id is not None:
        query = query.filter_by(deal_id=deal_id)
    if object_id is not None:
        query = query.filter_by(object_id=object_id)
    return [(e.event_type, e.outcome) for e in query]


def _state(deal):
    return refresh(deal).state


def _snapshot(deal):
    """Everything a webhook could change about a deal."""
    deal = refresh(deal)
    return (deal.state, deal.flagged, deal.version,
            [(e.idempotency_key, e.reference) for e in ledger.deal_entries(deal.id)],
            db.session.query(DealEvent).filter_by(deal_id=deal.id).count(),
            db.session.query(Notification).count())


def _post(base_url, body, signature):
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["Stripe-Signature"] = signature
    return requests.post(base_url + WEBHOOK, data=body, headers=headers, timeout=10)


def test_card_payment_funds_the_deal_only_through_the_signed_webhook(app, localstripe_webhook, stripe_client):
    deal = make_deal(price=88_000_00)
    pi_id = _start(deal)
    assert _confirm(stripe_client, pi_id) == "succeeded"
    assert _state(deal) == "awaiting_payment"  # Stripe said yes to the browser; the deal waits for the webhook

    wait_until(lambda: _state(deal) == "funded", message="the webhook to fund the deal")
    deal = refresh(deal)
    fund = ledger.find_entry(f"deal:{deal.id}:fund")
    assert fund.reference == pi_id
    assert ledger.deal_balances(deal)["escrow"] == 88_000_00
    assert _events(deal.id) == [("payment_intent.succeeded", "funded")]
    row = db.session.query(StripePaymentIntent).filter_by(payment_intent_id=pi_id).one()
    assert row.status == "succeeded" and row.charge_id.startswith("ch_")


def test_refund_through_stripe_then_in_the_ledger(app, localstripe_webhook, stripe_client):
    deal = make_deal(price=30_000_00)
    pi_id = _start(deal)
    _confirm(stripe_client, pi_id)
    wait_until(lambda: _state(deal) == "funded", message="funding")
    operator = factories.make_user("operator")
    db.session.commit()
    deals.open_dispute(deal.id, refresh(deal).buyer, "专利证书与挂牌信息不符")
    db.session.commit()
    deals.resolve_dispute(deal.id, operator, "refund")
    db.session.commit()

    deal = refresh(deal)
    assert (deal.state, deal.refund_status) == ("refunded", "refunded")
    refunds = stripe_client.v1.refunds.list(params={"payment_intent": pi_id}).data
    assert [(r.id, r.amount, r.status) for r in refunds] == [(deal.refund_reference, 30_000_00, "succeeded")]
    assert refunds[0].metadata["idempotency_key"] == f"deal:{deal.id}:refund"
    entry = ledger.find_entry(f"deal:{deal.id}:refund")
    assert entry.reference == deal.refund_reference
    balances = ledger.deal_balances(deal)
    assert (balances["escrow"], balances["refunded"]) == (0, 30_000_00)


def test_split_refunds_part_through_stripe(app, localstripe_webhook, stripe_client):
    deal = make_deal(price=10_000_00)
    pi_id = _start(deal)
    _confirm(stripe_client, pi_id)
    wait_until(lambda: _state(deal) == "funded", message="funding")
    operator = factories.make_user("operator")
    db.session.commit()
    deals.open_dispute(deal.id, refresh(deal).seller, "买方拒绝配合办理变更")
    deals.resolve_dispute(deal.id, operator, "split", seller_share=6_000_00)
    db.session.commit()
    refunds = stripe_client.v1.refunds.list(params={"payment_intent": pi_id}).data
    assert [r.amount for r in refunds] == [4_000_00]
    assert ledger.deal_balances(refresh(deal))["refunded"] == 4_000_00


def test_declined_card_tells_the_buyer_and_leaves_the_deal_waiting(app, localstripe_webhook, stripe_client):
    deal = make_deal()
    pi_id = _start(deal)
    assert _confirm(stripe_client, pi_id, "pm_card_chargeCustomerFail") == "declined"
    wait_until(lambda: _events(deal.id), message="the payment_failed webhook")
    assert _events(deal.id) == [("payment_intent.payment_failed", "buyer notified: payment failed")]
    note = db.session.query(Notification).filter_by(user_id=deal.buyer_id).order_by(Notification.id.desc()).first()
    assert "付款未成功" in note.title and "declined" in note.body
    assert _state(deal) == "awaiting_payment"
    # the buyer tries again (a new attempt, a new PaymentIntent) with a good card
    second = _start(refresh(deal))
    assert second != pi_id
    assert _confirm(stripe_client, second) == "succeeded"
    wait_until(lambda: _state(deal) == "funded", message="funding after a retry")
    assert ledger.find_entry(f"deal:{deal.id}:fund").reference == second


def test_a_payment_intent_of_no_deal_changes_nothing(app, localstripe_webhook, stripe_client):
    deal = make_deal()
    before = _snapshot(deal)
    pi = stripe_client.v1.payment_intents.create(params={
        "amount": deal.price, "currency": "cny", "payment_method_types": ["card"],
        "metadata": {"deal_id": str(deal.id)}})  # names our deal, but the app never created it
    _confirm(stripe_client, pi.id)
    wait_until(lambda: _events(object_id=pi.id), message="the webhook")
    assert _events(object_id=pi.id) == [("payment_intent.succeeded", "ignored: PaymentIntent belongs to no deal")]
    assert _snapshot(deal) == before


def test_a_paid_amount_that_does_not_match_flags_the_deal(app, localstripe_webhook, stripe_client):
    deal = make_deal(price=50_000_00)
    pi_id = _start(deal)
    # the PaymentIntent changed at the provider (say, in the dashboard) before the buyer paid
    stripe_client.v1.payment_intents.update(pi_id, params={"amount": 100})
    _confirm(stripe_client, pi_id)
    wait_until(lambda: _events(deal.id), message="the webhook")
    deal = refresh(deal)
    assert deal.state == "awaiting_payment" and "不符" in deal.flagged
    assert ledger.find_entry(f"deal:{deal.id}:fund") is None
    assert _events(deal.id)[0][1].startswith("flagged:")


def test_bad_or_old_signatures_are_refused_and_change_nothing(app, live_server, captured_webhooks, stripe_client,
                                                              caplog):
    deal = make_deal()
    pi_id = _start(deal)
    _confirm(stripe_client, pi_id)
    ((body, signature),) = captured_webhooks.wait_for("payment_intent.succeeded", pi_id)
    before = _snapshot(deal)
    old = int(time.time()) - 3600
    tampered = body.replace(b'"succeeded"', b'"succeeded" ', 1)
    for bad_body, bad_signature in [
        (body, None),  # no header
        (body, sign_payload(body, "whsec_someone_else")),  # another secret
        (body, sign_payload(body, WEBHOOK_SECRET, timestamp=old)),  # replayed an hour later
        (tampered, signature),  # the body changed after signing (even by one space)
        (b"not json", sign_payload(b"not json", WEBHOOK_SECRET)),
    ]:
        r = _post(live_server, bad_body, bad_signature)
        assert r.status_code == 400, bad_signature
        assert r.json()["error"]["code"] == "bad_signature"
    assert _snapshot(deal) == before and _events(object_id=pi_id) == []
    assert "stripe webhook refused" in caplog.text
    # the genuine delivery still works afterwards
    assert _post(live_server, body, signature).json()["outcome"] == "funded"


def test_the_same_event_twice_applies_once(app, live_server, captured_webhooks, stripe_client):
    deal = make_deal()
    pi_id = _start(deal)
    _confirm(stripe_client, pi_id)
    ((body, signature),) = captured_webhooks.wait_for("payment_intent.succeeded", pi_id)
    first = _post(live_server, body, signature)
    assert (first.status_code, first.json()["outcome"]) == (200, "funded")
    after_first = _snapshot(deal)
    second = _post(live_server, body, signature)
    assert (second.status_code, second.json()["outcome"]) == (200, "duplicate")
    assert _snapshot(deal) == after_first
    assert _events(deal.id) == [("payment_intent.succeeded", "funded")]


def test_events_out_of_order_apply_once(app, live_server, captured_webhooks, stripe_client):
    """Attempt 1 declined, attempt 2 paid; Stripe delivers attempt 2's success first, the old failure last."""
    deal = make_deal()
    first = _start(deal)
    assert _confirm(stripe_client, first, "pm_card_chargeCustomerFail") == "declined"
    second = _start(refresh(deal))
    assert _confirm(stripe_client, second) == "succeeded"
    ((failed, failed_sig),) = captured_webhooks.wait_for("payment_intent.payment_failed", first)
    ((succeeded, succeeded_sig),) = captured_webhooks.wait_for("payment_intent.succeeded", second)

    assert _post(live_server, succeeded, succeeded_sig).json()["outcome"] == "funded"
    funded = _snapshot(deal)
    # the late failure is about an attempt that no longer matters: no "payment failed" for a paid deal
    assert _post(live_server, failed, failed_sig).json()["outcome"].startswith("noted:")
    assert _post(live_server, failed, failed_sig).json()["outcome"] == "duplicate"
    assert _post(live_server, succeeded, succeeded_sig).json()["outcome"] == "duplicate"
    assert _snapshot(deal) == funded
    assert db.session.query(Notification).filter(Notification.user_id == deal.buyer_id,
                                                 Notification.title.contains("付款未成功")).count() == 0
    assert [k for k, _ in funded[3]] == [f"deal:{deal.id}:fund"]


def test_a_stale_snapshot_is_checked_against_stripe(app, live_server, captured_webhooks, stripe_client):
    """An event whose snapshot is older than the PaymentIntent: the app acts on what Stripe says now."""
    deal = make_deal()
    pi_id = _start(deal)
    assert _confirm(stripe_client, pi_id) == "succeeded"
    ((succeeded, succeeded_sig),) = captured_webhooks.wait_for("payment_intent.succeeded", pi_id)
    stale = json.loads(succeeded)
    stale.update(id="evt_stale_failure", type="payment_intent.payment_failed")
    stale["data"]["object"].update(status="requires_payment_method", latest_charge=None)
    body = json.dumps(stale).encode()
    # delivered before the success: the PaymentIntent is fetched again, has succeeded, and funds the deal
    assert _post(live_server, body, sign_payload(body, WEBHOOK_SECRET)).json()["outcome"] == "funded"
    assert _post(live_server, succeeded, succeeded_sig).json()["outcome"] == "already funded"
    assert _events(deal.id) == [("payment_intent.payment_failed", "funded"),
                                ("payment_intent.succeeded", "already funded")]
    assert db.session.query(Notification).filter(Notification.user_id == deal.buyer_id,
                                                 Notification.title.contains("付款未成功")).count() == 0


def test_unknown_event_types_are_ignored(app, client):
    deal = make_deal()
    before = _snapshot(deal)
    event = {"id": "evt_unknown_1", "object": "event", "type": "customer.created", "created": int(time.time()),
             "data": {"object": {"id": "cus_1", "object": "customer"}}}
    body = json.dumps(event).encode()
    r = client.post(WEBHOOK, data=body, headers={"Stripe-Signature": sign_payload(body, WEBHOOK_SECRET)},
                    content_type="application/json")
    assert r.status_code == 200 and r.get_json() == {"received": True, "event_id": "evt_unknown_1",
                                                     "outcome": "ignored: unhandled event type"}
    assert _snapshot(deal) == before


def test_without_a_webhook_secret_every_delivery_is_refused(app, client):
    app.config["STRIPE_WEBHOOK_SECRET"] = None
    body = b'{"id": "evt_1", "type": "payment_intent.succeeded", "data": {"object": {}}}'
    r = client.post(WEBHOOK, data=body, headers={"Stripe-Signature": sign_payload(body, WEBHOOK_SECRET)},
                    content_type="application/json")
    assert r.status_code == 400
    assert db.session.query(Deal).count() == 0


def test_the_same_event_delivered_concurrently_applies_once(app, live_server, captured_webhooks, stripe_client):
    from concurrent.futures import ThreadPoolExecutor

    deal = make_deal()
    pi_id = _start(deal)
    _confirm(stripe_client, pi_id)
    ((body, signature),) = captured_webhooks.wait_for("payment_intent.succeeded", pi_id)
    with ThreadPoolExecutor(max_workers=4) as pool:
        responses = list(pool.map(lambda _: _post(live_server, body, signature), range(4)))
    assert [r.status_code for r in responses] == [200] * 4
    assert sorted(r.json()["outcome"] for r in responses) == ["duplicate"] * 3 + ["funded"]
    assert _events(deal.id) == [("payment_intent.succeeded", "funded")]
    assert [e.idempotency_key for e in ledger.deal_entries(deal.id)] == [f"deal:{deal.id}:fund"]
