"""The same behaviour from StripeGateway (against localstripe) and FakeStripeGateway (in memory).

Then what only the fake can show, because localstripe has no Connect transfers, ignores
idempotency keys and never leaves a refund pending: those paths are tested here
against the fake behind the same interface, and StripeGateway's own calls for them
are checked with a recording client (the parameters Stripe would receive).
"""
from types import SimpleNamespace

import pytest

from escrow.gateways import get_gateway
from escrow.gateways.fake import IdempotencyError
from escrow.gateways.stripe_gateway import PaymentProviderError, StripeGateway
from escrow.webhook_models import StripePaymentIntent
from marketplace.kernel.extensions import db

from .conftest import make_deal, stripe_settings


@pytest.fixture
def app_config(localstripe):
    return stripe_settings(localstripe)


@pytest.fixture(params=["stripe", "fake_stripe"])
def provider(request, app, stripe_client, fake_stripe):
    """(gateway name, pay(pi_id, card)) for the stand-in and for the fake."""
    if request.param == "stripe":
        def pay(pi_id, card="pm_card_visa"):
            stripe_client.v1.payment_intents.update(pi_id, params={"payment_method": card})
            try:
                stripe_client.v1.payment_intents.confirm(pi_id)
            except Exception:  # a declined card raises CardError from the SDK
                pass
    else:
        def pay(pi_id, card="pm_card_visa"):
            fake_stripe.confirm(pi_id, card)
    return SimpleNamespace(name=request.param, pay=pay, gateway=get_gateway(request.param))


def test_payment_refund_and_offline_payout(provider):
    deal = make_deal(price=20_000_00, gateway=provider.name)
    gateway = provider.gateway
    instructions = gateway.start_payment(deal, 1)
    assert set(instructions) >= {"gateway", "payment_intent_id", "client_secret", "publishable_key", "amount",
                                 "currency"}
    assert (instructions["gateway"], instructions["amount"], instructions["currency"]) == ("stripe", 20_000_00, "CNY")
    assert gateway.start_payment(deal, 1)["payment_intent_id"] == instructions["payment_intent_id"]
    pi_id = instructions["payment_intent_id"]
    pi = gateway.fetch_payment_intent(pi_id)
    assert (pi["status"], pi["amount"], pi["currency"], pi["metadata"]["deal_id"]) == (
        "requires_payment_method", 20_000_00, "cny", str(deal.id))

    provider.pay(pi_id)
    pi = gateway.fetch_payment_intent(pi_id)
    assert pi["status"] == "succeeded" and pi["latest_charge"].startswith("ch_")

    result = gateway.refund(deal, 5_000_00, f"deal:{deal.id}:refund")
    assert result.ok and not result.pending
    assert gateway.fetch_refund(result.reference)["amount"] == 5_000_00
    assert [r["id"] for r in gateway.list_refunds(pi_id)] == [result.reference]

    payout = gateway.payout(deal, 10_000_00, f"deal:{deal.id}:payout")
    assert payout.ok and payout.pending  # no connected account: an operator pays offline


def test_declined_card(provider):
    deal = make_deal(gateway=provider.name)
    pi_id = provider.gateway.start_payment(deal, 1)["payment_intent_id"]
    provider.pay(pi_id, "pm_card_chargeCustomerFail")
    pi = provider.gateway.fetch_payment_intent(pi_id)
    assert pi["status"] == "requires_payment_method" and pi["failure_message"]
    assert not provider.gateway.refund(deal, 100, f"deal:{deal.id}:refund").ok


# --- only the fake: idempotency, Connect transfers, pending refunds, outages ------------

def _paid_deal(fake, **kw):
    deal = make_deal(gateway="fake_stripe", **kw)
    pi_id = fake.start_payment(deal, 1)["payment_intent_id"]
    fake.confirm(pi_id)
    return deal, pi_id


def test_idempotency_keys_replay_the_first_answer(app, fake_stripe):
    deal, pi_id = _paid_deal(fake_stripe, price=10_000_00)
    first = fake_stripe.refund(deal, 3_000_00, f"deal:{deal.id}:refund")
    again = fake_stripe.refund(deal, 3_000_00, f"deal:{deal.id}:refund")
    assert first.reference == again.reference
    assert len(fake_stripe.list_refunds(pi_id)) == 1
    # the same key with other parameters is refused, as Stripe does
    clash = fake_stripe.refund(deal, 4_000_00, f"deal:{deal.id}:refund")
    assert not clash.ok and "same parameters" in clash.message
    with pytest.raises(IdempotencyError):
        fake_stripe._idempotent("refunds.create", {"other": 1}, f"deal:{deal.id}:refund", dict)
    # PaymentIntents too: a lost row (say, a crash before commit) does not make a second intent
    db.session.query(StripePaymentIntent).delete()
    again_pi = fake_stripe.start_payment(deal, 1)["payment_intent_id"]
    assert again_pi == pi_id and len(fake_stripe.intents) == 1


def test_refunds_cannot_exceed_the_charge(app, fake_stripe):
    deal, _pi = _paid_deal(fake_stripe, price=10_000_00)
    assert fake_stripe.refund(deal, 6_000_00, "k1").ok
    over = fake_stripe.refund(deal, 6_000_00, "k2")
    assert not over.ok and "greater than the unrefunded amount" in over.message


def test_connect_transfer_to_the_sellers_account(app, fake_stripe):
    deal, pi_id = _paid_deal(fake_stripe, price=10_000_00, stripe_account_id="acct_1SellerTest")
    result = fake_stripe.payout(deal, 9_700_00, f"deal:{deal.id}:payout")
    assert result.ok and not result.pending and result.reference.startswith("tr_")
    transfer = fake_stripe.fetch_transfer(result.reference)
    charge_id = fake_stripe.fetch_payment_intent(pi_id)["latest_charge"]
    assert transfer == {"id": result.reference, "amount": 9_700_00, "currency": "cny",
                        "destination": "acct_1SellerTest", "transfer_group": f"deal-{deal.id}",
                        "source_transaction": charge_id, "reversed": False,
                        "metadata": {"deal_id": str(deal.id), "idempotency_key": f"deal:{deal.id}:payout"}}
    # retried with the same key: the same transfer, not a second one
    assert fake_stripe.payout(deal, 9_700_00, f"deal:{deal.id}:payout").reference == result.reference
    assert fake_stripe.list_transfers(f"deal-{deal.id}") == [transfer]
    # a transfer cannot take more than is left on the charge
    assert not fake_stripe.payout(deal, 1_000_00, f"deal:{deal.id}:payout:extra").ok


def test_pending_refund_then_settled(app, fake_stripe):
    deal, _pi = _paid_deal(fake_stripe)
    fake_stripe.refund_status = "pending"
    result = fake_stripe.refund(deal, 1_000_00, "k")
    assert result.ok and result.pending
    assert fake_stripe.settle_refund(result.reference)["status"] == "succeeded"


def test_outage_is_a_clean_error(app, fake_stripe):
    deal, _pi = _paid_deal(fake_stripe)
    fake_stripe.outage = True
    with pytest.raises(PaymentProviderError):
        fake_stripe.fetch_payment_intent("pi_x")
    assert not fake_stripe.refund(deal, 100, "k").ok
    with pytest.raises(PaymentProviderError):
        fake_stripe.start_payment(make_deal(gateway="fake_stripe"), 1)


class _RecordingClient:
    """Stands in for StripeClient to show what StripeGateway sends where localstripe cannot answer."""

    def __init__(self, charge_id):
        self.calls = []
        outer = self

        class _Service:
            def __init__(self, name):
                self.name = name

            def create(self, params, options=None):
                outer.calls.append((self.name, params, options))
                return {"id": "tr_recorded", "amount": params["amount"], "currency": params["currency"],
                        "destination": params["destination"], "transfer_group": params["transfer_group"],
                        "source_transaction": params.get("source_transaction")}

            def retrieve(self, object_id, params=None, options=None):
                return {"id": object_id, "amount": 1, "currency": "cny", "status": "succeeded",
                        "metadata": {}, "latest_charge": charge_id}

        self.v1 = SimpleNamespace(transfers=_Service("transfers"), payment_intents=_Service("payment_intents"))


def test_stripe_gateway_sends_a_connect_transfer_with_group_source_and_key(app):
    deal = make_deal(price=10_000_00, stripe_account_id="acct_1SellerTest")
    db.session.add(StripePaymentIntent(deal_id=deal.id, attempt=1, gateway="stripe", payment_intent_id="pi_paid",
                                       amount=10_000_00, currency="CNY", status="succeeded", charge_id="ch_paid"))
    client = _RecordingClient("ch_paid")
    result = StripeGateway(client).payout(deal, 9_700_00, f"deal:{deal.id}:payout")
    assert result.ok and not result.pending and result.reference == "tr_recorded"
    assert client.calls == [("transfers", {
        "amount": 9_700_00, "currency": "cny", "destination": "acct_1SellerTest", "transfer_group": f"deal-{deal.id}",
        "source_transaction": "ch_paid",
        "metadata": {"deal_id": str(deal.id), "idempotency_key": f"deal:{deal.id}:payout"},
    }, {"idempotency_key": f"deal:{deal.id}:payout"})]


def test_localstripe_has_no_transfers_so_the_payout_fails_cleanly(app, stripe_client):
    deal = make_deal(stripe_account_id="acct_1SellerTest")
    gateway = get_gateway("stripe")
    pi_id = gateway.start_payment(deal, 1)["payment_intent_id"]
    stripe_client.v1.payment_intents.update(pi_id, params={"payment_method": "pm_card_visa"})
    stripe_client.v1.payment_intents.confirm(pi_id)
    result = gateway.payout(deal, 1000, f"deal:{deal.id}:payout")
    assert not result.ok and result.message
