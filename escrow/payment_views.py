"""Pay pages for card / Alipay / WeChat Pay through Stripe (Payment Element).

``GET /deals/<id>/pay/card`` shows what is to be paid; ``POST`` (the buyer, CSRF)
starts a payment attempt (``escrow.deals.start_payment``: one PaymentIntent per
attempt) and renders Stripe.js's Payment Element for it (``static/js/stripe_pay.js``;
no inline script). Stripe sends the buyer back to ``/deals/<id>/pay/card/return``,
which only says what Stripe reported: the deal is funded by the signed webhook alone.
Views never import ``stripe``; a provider failure is a friendly message, never a trace.
"""
import logging

from flask import Blueprint, current_app, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from marketplace.kernel.errors import Conflict, PermissionDenied
from marketplace.kernel.extensions import db
from marketplace.kernel.webutil import act

from . import deals, machine
from .gateways import get_gateway
from .gateways.stripe_gateway import PaymentProviderError
from .webhook_models import StripePaymentIntent

log = logging.getLogger(__name__)

bp = Blueprint("payments", __name__)

STRIPE_GATEWAYS = ("stripe", "fake_stripe")
STRIPE_JS = "https://js.stripe.com/v3/"  # Stripe.js must come from Stripe (CSP allows it when Stripe is on)


def _buyers_deal(deal_id):
    deal = deals.get_deal_for(deal_id, current_user)  # 404 unless buyer, seller or operator
    if deal.buyer_id != current_user.id:
        raise PermissionDenied(_("只有买方可以付款"))
    if deal.gateway not in STRIPE_GATEWAYS:
        raise Conflict(_("本交易通过银行转账付款，请按交易页面上的转账说明付款"))
    return deal


def _page(deal, instructions=None, error=None, status=200):
    config = current_app.config
    return render_template(
        "escrow/pay_card.html", deal=deal, instructions=instructions, error=error,
        state_label=machine.STATE_LABELS.get(deal.state, deal.state),
        test_mode=str(config.get("STRIPE_SECRET_KEY") or "").startswith("sk_test_"),
        return_url=url_for("payments.pay_card_return", deal_id=deal.id, _external=True),
        stripe_js_url=STRIPE_JS,
    ), status


@bp.get("/deals/<int:deal_id>/pay/card")
@login_required
def pay_page(deal_id):
    return _page(_buyers_deal(deal_id))


@bp.post("/deals/<int:deal_id>/pay/card")
@login_required
def start_card_payment(deal_id):
    deal = _buyers_deal(deal_id)

    def refused(exc):  # the reason in the pay page's own box
        if isinstance(exc, PaymentProviderError):
            log.error("pay page: deal %s: %s", deal_id, exc.message)
            return _page(db.session.get(type(deal), deal_id), error=_("支付服务暂时不可用，请稍后重试。您尚未被扣款。"),
                         status=503)
        return _page(db.session.get(type(deal), deal_id), error=exc.message, status=exc.status)

    return act(lambda: _page(deal, instructions=deals.start_payment(deal.id, current_user)), refused, show=None)


@bp.get("/deals/<int:deal_id>/pay/card/return")
@login_required
def pay_card_return(deal_id):
    """Where Stripe sends the buyer after the Payment Element: report, never fund."""
    deal = _buyers_deal(deal_id)
    status = None
    pi_id = request.args.get("payment_intent", "")
    row = db.session.query(StripePaymentIntent).filter_by(deal_id=deal.id, payment_intent_id=pi_id).first()
    if row is not None:
        try:
            status = get_gateway(row.gateway).fetch_payment_intent(row.payment_intent_id)["status"]
        except PaymentProviderError as exc:
            log.warning("pay return page: deal %s: %s", deal_id, exc.message)
    return render_template("escrow/pay_card_return.html", deal=deal, payment_status=status,
                           known_intent=row is not None)
