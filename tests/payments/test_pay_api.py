"""``POST /api/v1/deals/{id}/pay`` with Stripe configured answers a PaymentIntent (docs/api.md); offline stays offline."""
import pytest

from marketplace.kernel.extensions import db
from tests.factories import auth_header

from .conftest import make_deal, stripe_settings


class TestWithStripe:
    @pytest.fixture
    def app_config(self, localstripe):
        return stripe_settings(localstripe)

    def test_pay_answers_a_payment_intent(self, app, client, stripe_client):
        deal = make_deal(price=66_000_00)
        headers = auth_header(deal.buyer)
        db.session.commit()
        r = client.post(f"/api/v1/deals/{deal.id}/pay", headers=headers)
        body = r.get_json()
        assert r.status_code == 200 and body["gateway"] == "stripe"
        assert body["client_secret"].startswith(body["payment_intent_id"] + "_secret_")
        pi = stripe_client.v1.payment_intents.retrieve(body["payment_intent_id"])
        assert (pi.amount, pi.currency, pi.metadata["deal_id"]) == (66_000_00, "cny", str(deal.id))

    def test_provider_down_is_503_in_the_error_shape(self, app, client):
        deal = make_deal()
        headers = auth_header(deal.buyer)
        db.session.commit()
        app.config["STRIPE_API_BASE"] = "http://127.0.0.1:9"
        r = client.post(f"/api/v1/deals/{deal.id}/pay", headers=headers)
        assert r.status_code == 503
        assert r.get_json()["error"]["code"] == "payment_provider_unavailable"


def test_without_stripe_settings_pay_is_offline(app, client):
    deal = make_deal(gateway="offline")
    headers = auth_header(deal.buyer)
    db.session.commit()
    assert app.config["STRIPE_SECRET_KEY"] is None
    body = client.post(f"/api/v1/deals/{deal.id}/pay", headers=headers).get_json()
    assert body["gateway"] == "offline" and body["reference"] == deal.payment_reference
