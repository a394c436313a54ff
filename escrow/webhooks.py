"""Payment gateway webhooks (Stripe), signature-verified; the only CSRF-exempt POST.

``POST /api/v1/webhooks/stripe``: the signature is checked on the raw body with
``STRIPE_WEBHOOK_SECRET`` (an old timestamp is refused too), then the event is
applied once (``escrow.stripe_events``). Answers: 400 for a bad or old signature;
200 for everything Stripe should not retry (applied, duplicate, ignorable); 503
when the provider cannot be asked, so Stripe retries later.
"""
import logging

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy.exc import IntegrityError

from marketplace.kernel.apiutil import API_PREFIX, doc, error_response
from marketplace.kernel.extensions import db

from .gateways.stripe_gateway import PaymentProviderError, WebhookSignatureError, verify_webhook
from .stripe_events import already_applied, apply_stripe_event

log = logging.getLogger(__name__)

bp = Blueprint("webhooks", __name__, url_prefix=API_PREFIX)

_ERROR = {"$ref": "#/components/schemas/Error"}
_RECEIVED = {
    "type": "object",
    "required": ["received", "event_id", "outcome"],
    "properties": {"received": {"type": "boolean"}, "event_id": {"type": "string"},
                   "outcome": {"type": "string"}},
}


@bp.post("/webhooks/stripe")
@doc("Stripe webhook: signature verified on the raw body, each event applied once",
     request_schema={"type": "object", "description": "A Stripe event, signed in the Stripe-Signature header"},
     responses={"200": _RECEIVED, "400": _ERROR, "503": _ERROR}, auth=False, tags=["payments"],
     parameters=[{"name": "Stripe-Signature", "in": "header", "required": True, "schema": {"type": "string"}}])
def stripe_webhook():
    payload = request.get_data()  # the raw bytes: the signature covers them exactly
    try:
        event = verify_webhook(payload, request.headers.get("Stripe-Signature"),
                               current_app.config.get("STRIPE_WEBHOOK_SECRET"))
    except WebhookSignatureError as exc:
        log.warning("stripe webhook refused from %s: %s", request.remote_addr, exc)
        return error_response(400, "bad_signature", "Webhook 签名无效或已过期")
    try:
        outcome = apply_stripe_event(event)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        if not already_applied(event["id"]):
            raise
        # the same event id delivered twice at once: the other delivery applied it
        log.info("stripe webhook %s: applied by a concurrent delivery", event["id"])
        outcome = "duplicate"
    except PaymentProviderError as exc:
        db.session.rollback()
        log.error("stripe webhook %s (%s) not applied, Stripe will retry: %s", event["id"], event["type"], exc)
        return error_response(503, "payment_provider_unavailable", "暂时无法向支付服务核实，请稍后重试")
    return jsonify({"received": True, "event_id": str(event["id"]), "outcome": outcome})

