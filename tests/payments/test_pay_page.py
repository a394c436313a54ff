"""The buyer's card / Alipay / WeChat Pay page (Payment Element), against localstripe."""
import re

import pytest

from escrow.webhook_models import StripePaymentIntent
from marketplace.kernel.extensions import db
from marketplace.kernel.money import format_yuan
from tests import factories

from .conftest import make_deal, refresh, stripe_settings


@pytest.fixture
def app_config(localstripe):
    return stripe_settings(localstripe)


def test_buyer_starts_a_payment_and_gets_the_payment_element(app, client, as_user):
    deal = make_deal(price=12_345_00)
    as_user(deal.buyer)
    page = client.get(f"/deals/{deal.id}/pay/card")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and format_yuan(12_345_00) in html
    assert 'action="/deals/%d/pay/card"' % deal.id in html and "payment-element" not in html
    assert db.session.query(StripePaymentIntent).count() == 0  # GET creates nothing

    page = client.post(f"/deals/{deal.id}/pay/card")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    row = db.session.query(StripePaymentIntent).filter_by(deal_id=deal.id).one()
    assert f'data-client-secret="{row.payment_intent_id}_secret_' in html
    assert 'data-publishable-key="pk_test_ipmart_payments"' in html
    assert f'data-return-url="http://localhost/deals/{deal.id}/pay/card/return"' in html
    assert '<script src="https://js.stripe.com/v3/"></script>' in html and "js/stripe_pay.js" in html
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline script"
    assert " style=" not in html
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self' https://js.stripe.com" in csp
    assert refresh(deal).state == "awaiting_payment"


def test_only_the_buyer_may_pay(app, client, as_user):
    deal = make_deal()
    stranger = factories.make_user("buyer")
    db.session.commit()
    as_user(deal.seller)
    assert client.get(f"/deals/{deal.id}/pay/card").status_code == 403
    assert client.post(f"/deals/{deal.id}/pay/card").status_code == 403
    as_user(stranger)
    assert client.get(f"/deals/{deal.id}/pay/card").status_code == 404
    assert client.post(f"/deals/{deal.id}/pay/card").status_code == 404
    assert db.session.query(StripePaymentIntent).count() == 0


def test_signed_out_visitors_are_sent_to_sign_in(app, client):
    deal = make_deal()
    r = client.get(f"/deals/{deal.id}/pay/card")
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_a_bank_transfer_deal_has_no_card_page(app, client, as_user):
    deal = make_deal(gateway="offline")
    as_user(deal.buyer)
    r = client.get(f"/deals/{deal.id}/pay/card")
    assert r.status_code == 409 and "银行转账" in r.get_data(as_text=True)


def test_provider_down_is_a_friendly_message_not_a_trace(app, client, as_user):
    deal = make_deal()
    app.config["STRIPE_API_BASE"] = "http://127.0.0.1:9"  # nothing listens there
    as_user(deal.buyer)
    r = client.post(f"/deals/{deal.id}/pay/card")
    html = r.get_data(as_text=True)
    assert r.status_code == 503
    assert "支付服务暂时不可用" in html and "尚未被扣款" in html
    assert "Traceback" not in html and "Error" not in html and "127.0.0.1" not in html
    assert db.session.query(StripePaymentIntent).count() == 0
    assert refresh(deal).state == "awaiting_payment"


def test_a_paid_deal_needs_no_payment(app, client, as_user, stripe_client):
    deal = make_deal()
    deal.state = "funded"
    db.session.commit()
    as_user(deal.buyer)
    html = client.get(f"/deals/{deal.id}/pay/card").get_data(as_text=True)
    assert "无需付款" in html and "资金已托管" in html
    r = client.post(f"/deals/{deal.id}/pay/card")
    assert r.status_code == 409 and "Traceback" not in r.get_data(as_text=True)


def test_return_page_reports_and_never_funds(app, client, as_user, stripe_client):
    deal = make_deal()
    as_user(deal.buyer)
    client.post(f"/deals/{deal.id}/pay/card")
    pi_id = db.session.query(StripePaymentIntent).one().payment_intent_id
    stripe_client.v1.payment_intents.update(pi_id, params={"payment_method": "pm_card_visa"})
    stripe_client.v1.payment_intents.confirm(pi_id)
    r = client.get(f"/deals/{deal.id}/pay/card/return?payment_intent={pi_id}&redirect_status=succeeded")
    assert r.status_code == 200 and "等待到账确认" in r.get_data(as_text=True)
    assert refresh(deal).state == "awaiting_payment"  # only the signed webhook funds the deal
    # a PaymentIntent that is not this deal's, or garbage, is not looked up
    r = client.get(f"/deals/{deal.id}/pay/card/return?payment_intent=pi_someone_else")
    assert r.status_code == 200 and "暂时无法确认" in r.get_data(as_text=True)


def test_english_page(app, client, as_user):
    deal = make_deal()
    as_user(deal.buyer)
    html = client.get(f"/deals/{deal.id}/pay/card?lang=en").get_data(as_text=True)
    assert "Pay online" in html and "Pay by card, Alipay or WeChat Pay" in html


def test_the_deal_pages_pay_button_leads_here(app, client, as_user):
    deal = make_deal()
    as_user(deal.buyer)
    r = client.post(f"/deals/{deal.id}/pay")
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/deals/{deal.id}/pay/card")
    assert db.session.query(StripePaymentIntent).count() == 0


def test_a_price_above_the_online_limit_says_so(app, client, as_user):
    deal = make_deal(price=2_000_000_00)
    as_user(deal.buyer)
    r = client.post(f"/deals/{deal.id}/pay/card")
    html = r.get_data(as_text=True)
    assert r.status_code == 409 and "单笔上限" in html and "银行转账" in html
