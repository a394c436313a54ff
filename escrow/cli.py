"""CLI commands of `escrow`: ``payments reconcile`` (and a test-mode payment for trying the card path locally)."""
import click
from flask import current_app
from flask.cli import AppGroup

from marketplace.kernel.extensions import db

payments_cli = AppGroup("payments", help="Stripe payments: reconciliation with the ledger.")


@payments_cli.command("reconcile")
@click.option("--deal", "deal_ids", type=int, multiple=True, help="Only this deal (may be repeated).")
def reconcile_command(deal_ids):
    """Compare ledger entries with Stripe's PaymentIntents, refunds and transfers; list every mismatch.

    Exit status 0 when everything agrees, 1 when there is a mismatch (or something could not be verified).
    """
    from .reconcile import reconcile

    if not current_app.config.get("STRIPE_SECRET_KEY"):
        click.echo("note: STRIPE_SECRET_KEY is not set; only deals paid through the test fake can be checked",
                   err=True)
    report = reconcile(deal_ids or None)
    for mismatch in report.mismatches:
        click.echo(f"MISMATCH {mismatch}")
    click.echo(f"checked {report.deals_checked} deal(s): "
               + ("no mismatch" if report.ok else f"{len(report.mismatches)} mismatch(es)"))
    if not report.ok:
        raise SystemExit(1)


@payments_cli.command("test-pay")
@click.argument("deal_id", type=int)
@click.option("--card", default="pm_card_visa", show_default=True,
              help="A Stripe test payment method (pm_card_chargeCustomerFail is declined).")
def test_pay_command(deal_id, card):
    """Pay a deal's latest PaymentIntent with a Stripe test card, as Stripe.js would (test keys only).

    For trying the card path against a local stand-in (localstripe), whose API the
    browser's Payment Element cannot reach. The deal is funded by the webhook that follows.
    """
    from .gateways import get_gateway
    from .gateways.stripe_gateway import PaymentProviderError
    from .webhook_models import StripePaymentIntent

    row = (db.session.query(StripePaymentIntent).filter_by(deal_id=deal_id)
           .order_by(StripePaymentIntent.attempt.desc()).first())
    if row is None:
        raise click.ClickException(f"deal {deal_id} has no PaymentIntent yet: the buyer must start paying first")
    try:
        pi = get_gateway(row.gateway).confirm(row.payment_intent_id, card)
    except PaymentProviderError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"{row.payment_intent_id}: {pi['status']}")


def register(app):
    app.cli.add_command(payments_cli)
