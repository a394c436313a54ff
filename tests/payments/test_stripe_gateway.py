"""StripeGateway against localstripe: the PaymentIntent it creates, re-reading an attempt, refunds, errors."""
import pytest

from escrow.gateways import get_gateway
from escrow.gateways.stripe_gateway import PaymentProviderError, ProviderObjectMissing, StripeGateway
from escrow.webhook_models import StripePaymentIntent
from marketplace.kernel.extensions import db

from .conftest import make_deal, stripe_settings


@pytest.fixture
def app_config(localstripe):
    return stripe_settings(localstripe)


def _pay(stripe_client, pi_id, payment_method="pm_card_visa"):
    stripe_client.v1.payment_intents.update(pi_id, params={"payment_method": payment_method})
    return stripe_client.v1.payment_intents.confirm(pi_id)


def test_settings_choose_stripe(app):
    gateway = get_gateway()
    assert isinstance(gateway, StripeGateway)
    assert gateway.payment_method_types == ["card"]


def test_one_payment_intent_per_attempt_in_fen_cny_with_deal_metadata(app, stripe_client):
    deal = make_deal(price=123_456_78)
    gateway = get_gateway("stripe")
    first = gateway.start_payment(deal, 1)
    assert first["gateway"] == "stripe"
    assert first["payment_intent_id"].startswith("pi_") and first["client_secret"].startswith(first["payment_intent_id"])
    pi = stripe_client.v1.payment_intents.retrieve(first["payment_intent_id"])
    assert (pi.amount, pi.currency, pi.capture_method) == (123_456_78, "cny", "automatic")
    assert pi.metadata.to_dict() == {"deal_id": str(deal.id), "attempt": "1"}
    # the same attempt again (a reload) answers the same PaymentIntent; the next attempt gets a new one
    assert gateway.start_payment(deal, 1)["payment_intent_id"] == first["payment_intent_id"]
    second = gateway.start_payment(deal, 2)
    assert second["payment_intent_id"] != first["payment_intent_id"]
    db.session.commit()
    rows = db.session.query(StripePaymentIntent).filter_by(deal_id=deal.id).order_by(StripePaymentIntent.attempt)
    assert [(r.attempt, r.payment_intent_id, r.amount, r.currency) for r in rows] == [
        (1, first["payment_intent_id"], 123_456_78, "CNY"), (2, second["payment_intent_id"], 123_456_78, "CNY")]


def test_refund_draws_on_the_succeeded_payment_intent(app, stripe_client):
    deal = make_deal(price=10_000_00)
    gateway = get_gateway("stripe")
    pi_id = gateway.start_payment(deal, 1)["payment_intent_id"]
    assert _pay(stripe_client, pi_id).status == "succeeded"
    result = gateway.refund(deal, 4_000_00, f"deal:{deal.id}:refund")
    assert result.ok and not result.pending and result.reference.startswith("re_")
    refund = gateway.fetch_refund(result.reference)
    assert (refund["amount"], refund["currency"], refund["status"], refund["payment_intent"]) == (
        4_000_00, "cny", "succeeded", pi_id)
    assert refund["metadata"]["idempotency_key"] == f"deal:{deal.id}:refund"
    assert [r["id"] for r in gateway.list_refunds(pi_id)] == [result.reference]
    row = db.session.query(StripePaymentIntent).filter_by(payment_intent_id=pi_id).one()
    assert row.status == "succeeded" and row.charge_id and row.charge_id.startswith("ch_")


def test_refund_without_a_payment_fails_cleanly(app):
    deal = make_deal()
    gateway = get_gateway("stripe")
    gateway.start_payment(deal, 1)
    result = gateway.refund(deal, 100, f"deal:{deal.id}:refund")
    assert not result.ok and "no succeeded PaymentIntent" in result.message


def test_declined_card_leaves_the_intent_unpaid(app, stripe_client):
    import stripe

    deal = make_deal()
    gateway = get_gateway("stripe")
    pi_id = gateway.start_payment(deal, 1)["payment_intent_id"]
    with pytest.raises(stripe.CardError):
        _pay(stripe_client, pi_id, "pm_card_chargeCustomerFail")
    pi = gateway.fetch_payment_intent(pi_id)
    assert pi["status"] == "requires_payment_method" and pi["failure_message"]


def test_payout_without_connected_account_is_offline_and_pending(app):
    deal = make_deal()
    result = get_gateway("stripe").payout(deal, 1000, f"deal:{deal.id}:payout")
    assert result.ok and result.pending and result.reference is None


def test_missing_objects_and_an_unreachable_provider(app):
    gateway = get_gateway("stripe")
    with pytest.raises(ProviderObjectMissing):
        gateway.fetch_payment_intent("pi_doesnotexist")
    dead = StripeGateway.from_config({**app.config, "STRIPE_API_BASE": "http://127.0.0.1:9",
                                      "STRIPE_MAX_NETWORK_RETRIES": 0})
    deal = make_deal()
    with pytest.raises(PaymentProviderError) as info:
        dead.start_payment(deal, 1)
    assert info.value.status == 503 and "稍后重试" in info.value.message
    assert not dead.refund(deal, 100, "k").ok


def test_cli_test_pay_then_the_webhook_funds(app, runner, localstripe_webhook):
    from escrow import deals
    from tests.payments.conftest import refresh, wait_until

    deal = make_deal()
    assert "no PaymentIntent yet" in runner.invoke(args=["payments", "test-pay", str(deal.id)]).output
    deals.start_payment(deal.id, deal.buyer)
    db.session.commit()
    result = runner.invoke(args=["payments", "test-pay", str(deal.id)])
    assert result.exit_code == 0 and result.output.strip().endswith(": succeeded")
    wait_until(lambda: refresh(deal).state == "funded", message="the webhook")


def test_test_cards_need_a_test_key(app):
    live = StripeGateway.from_config({**app.config, "STRIPE_SECRET_KEY": "sk_live_not_really"})
    assert not live.test_mode
    with pytest.raises(PaymentProviderError):
        live.confirm("pi_x")


def test_wallets_from_settings_are_sent_with_what_stripe_needs(app):
    from types import SimpleNamespace

    sent = []

    class _Intents:
        def create(self, params, options=None):
            sent.append((params, options))
            return {"id": "pi_rec", "amount": params["amount"], "currency": params["currency"],
                    "status": "requires_payment_method", "client_secret": "pi_rec_secret_x", "metadata": {}}

    deal = make_deal(price=8_000_00)
    gateway = StripeGateway(SimpleNamespace(v1=SimpleNamespace(payment_intents=_Intents())),
                            payment_method_types=["card", "alipay", "wechat_pay"])
    assert gateway.start_payment(deal, 3)["payment_method_types"] == ["card", "alipay", "wechat_pay"]
    assert sent == [({"amount": 8_000_00, "currency": "cny", "capture_method": "automatic",
                      "payment_method_types": ["card", "alipay", "wechat_pay"],
                      "metadata": {"deal_id": str(deal.id), "attempt": "3"},
                      "payment_method_options": {"wechat_pay": {"client": "web"}}},
                     {"idempotency_key": f"deal:{deal.id}:pi:3"})]


def test_localstripe_takes_the_wallet_parameters_too(app):
    app.config["STRIPE_PAYMENT_METHOD_TYPES"] = ["card", "alipay", "wechat_pay"]
    deal = make_deal()
    assert get_gateway().start_payment(deal, 1)["payment_intent_id"].startswith("pi_")


@pytest.mark.parametrize("name", ["stripe", "fake_stripe"])
def test_a_price_above_stripes_limit_is_refused_before_calling_stripe(app, name):
    from marketplace.kernel.errors import Conflict

    deal = make_deal(price=1_000_000_00)  # ¥100万 = 100,000,000 fen: nine digits
    with pytest.raises(Conflict) as info:
        get_gateway(name).start_payment(deal, 1)
    assert "银行转账" in info.value.message
    assert db.session.query(StripePaymentIntent).count() == 0
