"""Every gateway matches the PaymentGateway interface; views never import ``stripe``; settings pick the gateway."""
import ast
import inspect
from pathlib import Path

import pytest

from escrow.gateways import get_gateway
from escrow.gateways.base import PaymentGateway
from escrow.gateways.fake import FakeStripeGateway
from escrow.gateways.offline import OfflineGateway
from escrow.gateways.stripe_gateway import StripeGateway

ROOT = Path(__file__).resolve().parents[2]
IMPLEMENTATIONS = [OfflineGateway, StripeGateway, FakeStripeGateway]
# what the webhook and reconciliation ask a Stripe-like gateway, beyond the interface
PROVIDER_QUERIES = ("fetch_payment_intent", "fetch_refund", "list_refunds", "fetch_transfer", "list_transfers")


def _shape(fn):
    return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS, ids=lambda c: c.__name__)
def test_implementation_matches_the_interface(implementation):
    assert issubclass(implementation, PaymentGateway)
    assert not getattr(implementation, "__abstractmethods__", None), "abstract methods left unimplemented"
    assert PaymentGateway.__abstractmethods__ == {"start_payment", "refund", "payout"}
    for name in PaymentGateway.__abstractmethods__:
        assert _shape(getattr(implementation, name)) == _shape(getattr(PaymentGateway, name)), name
    assert implementation.name != PaymentGateway.name


def test_the_fake_answers_the_same_provider_queries_as_stripe():
    for name in PROVIDER_QUERIES:
        assert _shape(getattr(FakeStripeGateway, name)) == _shape(getattr(StripeGateway, name)), name
    public = {n for n, v in vars(StripeGateway).items() if callable(v) and not n.startswith("_")} - {"from_config"}
    assert public <= set(dir(FakeStripeGateway))


def test_only_the_gateways_import_stripe():
    offenders = []
    for path in sorted((ROOT / "escrow").rglob("*.py")) + sorted((ROOT / "marketplace").rglob("*.py")):
        if path.name in ("stripe_gateway.py", "fake.py") and path.parent.name == "gateways":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            if any(n == "stripe" or n.startswith("stripe.") for n in names):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


@pytest.mark.parametrize("name, cls", [("offline", OfflineGateway), ("stripe", StripeGateway),
                                       ("fake_stripe", FakeStripeGateway)])
def test_get_gateway_by_name(app, name, cls):
    app.config.update(STRIPE_SECRET_KEY="sk_test_x", STRIPE_API_BASE="http://127.0.0.1:9")
    gateway = get_gateway(name)
    assert isinstance(gateway, cls) and gateway.name == name


def test_without_stripe_settings_the_offline_gateway_is_chosen(app):
    assert app.config["STRIPE_SECRET_KEY"] is None
    assert isinstance(get_gateway(), OfflineGateway)


def test_stripe_settings_choose_stripe(app):
    app.config.update(STRIPE_SECRET_KEY="sk_test_x", STRIPE_PAYMENT_METHOD_TYPES=["card", "alipay", "wechat_pay"])
    gateway = get_gateway()
    assert isinstance(gateway, StripeGateway)
    assert gateway.payment_method_types == ["card", "alipay", "wechat_pay"]
