"""Payment gateways behind one interface; views never import ``stripe``.

``get_gateway()`` picks the implementation from settings: Stripe when
``STRIPE_SECRET_KEY`` is set, otherwise the offline bank transfer (银行存管).
"""
from flask import current_app

from marketplace.kernel import labels

from .base import PaymentGateway  # noqa: F401

# What people read where a gateway is named (deal records, ledger accounts); the code stays the key.
LABELS = labels.GATEWAY


def label(name):
    return LABELS.get(name, name)


def get_gateway(name=None) -> "PaymentGateway":
    name = name or ("stripe" if current_app.config.get("STRIPE_SECRET_KEY") else "offline")
    if name == "stripe":
        from .stripe_gateway import StripeGateway

        return StripeGateway.from_config(current_app.config)
    if name == "fake_stripe":
        if not current_app.testing:  # a deal row naming the test double never reaches it outside the test suite
            raise RuntimeError("the fake_stripe gateway exists for the test suite only (TESTING)")
        from .fake import FakeStripeGateway

        return FakeStripeGateway.instance()
    from .offline import OfflineGateway

    return OfflineGateway(current_app.config)
