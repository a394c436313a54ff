"""``flask payments reconcile``: the ledger against Stripe (localstripe), and against the fake for transfers."""
import pytest
from flask import current_app

from escrow import deals, gateway_calls, ledger
from escrow.reconcile import reconcile
from marketplace.kernel.errors import Conflict
from marketplace.kernel.extensions import db
from tests import factories

from .conftest import WEBHOOK_SECRET, make_deal, refresh, stripe_settings, wait_until


def _run(runner, *args):
    result = runner.invoke(args=["payments", "reconcile", *args])
    return result.exit_code, result.output


def _kinds(deal_ids=None):
    return sorted(m.kind for m in reconcile(deal_ids).mismatches)


class TestAgainstLocalstripe:
    @pytest.fixture
    def app_config(self, localstripe):
        return stripe_settings(localstripe)

    def _pay(self, stripe_client, deal, card="pm_card_visa"):
        pi_id = deals.start_payment(deal.id, deal.buyer)["payment_intent_id"]
        db.session.commit()
        stripe_client.v1.payment_intents.update(pi_id, params={"payment_method": card})
        stripe_client.v1.payment_intents.confirm(pi_id)
        return pi_id

    def test_paid_and_refunded_deals_reconcile_cleanly(self, app, runner, localstripe_webhook, stripe_client):
        paid, refunded = make_deal(price=40_000_00), make_deal(price=25_000_00)
        unpaid = make_deal()
        deals.start_payment(unpaid.id, unpaid.buyer)
        db.session.commit()
        self._pay(stripe_client, paid)
        self._pay(stripe_client, refunded)
        wait_until(lambda: refresh(paid).state == "funded" and refresh(refunded).state == "funded",
                   message="both webhooks")
        operator = factories.make_user("operator")
        deals.open_dispute(refunded.id, refresh(refunded).buyer, "权利人信息不一致")
        deals.resolve_dispute(refunded.id, operator, "split", seller_share=5_000_00)
        db.session.commit()
        code, output = _run(runner)
        assert (code, output.strip().splitlines()[-1]) == (0, "checked 3 deal(s): no mismatch"), output

    def test_a_missed_webhook_is_a_mismatch(self, app, runner, captured_webhooks, stripe_client):
        deal = make_deal(price=40_000_00)
        pi_id = self._pay(stripe_client, deal)  # the webhook goes to the capture, never to the app
        code, output = _run(runner)
        assert code == 1
        assert f"MISMATCH deal {deal.id}: payment_not_in_ledger: {pi_id} took 40,000.00 CNY but the ledger has no funding" \
            in output
        assert output.strip().endswith("1 mismatch(es)")
        # once the webhook arrives, everything agrees
        ((body, signature),) = captured_webhooks.wait_for("payment_intent.succeeded", pi_id)
        client = app.test_client()
        client.post("/api/v1/webhooks/stripe", data=body, headers={"Stripe-Signature": signature},
                    content_type="application/json")
        assert _run(runner)[0] == 0

    def test_a_refund_made_outside_the_app_is_a_mismatch(self, app, runner, localstripe_webhook, stripe_client):
        deal = make_deal(price=10_000_00)
        pi_id = self._pay(stripe_client, deal)
        wait_until(lambda: refresh(deal).state == "funded", message="funding")
        refund = stripe_client.v1.refunds.create(params={"payment_intent": pi_id, "amount": 1_000_00})
        assert _kinds() == ["refund_not_in_ledger"]
        code, output = _run(runner, "--deal", str(deal.id))
        assert code == 1 and refund.id in output

    def test_funding_booked_for_an_unpaid_intent_is_a_mismatch(self, app, runner, stripe_client):
        deal = make_deal(price=10_000_00)
        pi_id = deals.start_payment(deal.id, deal.buyer)["payment_intent_id"]
        deals.record_gateway_payment(deal.id, deal.price, "CNY", "stripe", pi_id)  # as if a forged event got in
        db.session.commit()
        assert _kinds() == ["fund_not_paid_in_stripe"]


class TestAgainstTheFake:
    """Connect transfers exist only in the fake (localstripe has none)."""

    @pytest.fixture
    def app_config(self):
        return {"STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET}

    def _completed_deal(self, fake):
        deal = make_deal(price=50_000_00, gateway="fake_stripe", stripe_account_id="acct_1Seller")
        pi_id = deals.start_payment(deal.id, deal.buyer)["payment_intent_id"]
        db.session.commit()
        fake.confirm(pi_id)
        body, signature = fake.signed(fake.event("payment_intent.succeeded", fake.fetch_payment_intent(pi_id)),
                                      WEBHOOK_SECRET)
        assert current_app.test_client().post("/api/v1/webhooks/stripe", data=body, headers={"Stripe-Signature": signature},
                                content_type="application/json").get_json()["outcome"] == "funded"
        operator = factories.make_user("operator")
        deals.open_dispute(deal.id, refresh(deal).buyer, "请平台确认验收")
        deals.resolve_dispute(deal.id, operator, "release")
        db.session.commit()
        deal = refresh(deal)
        assert deal.state == "completed"
        return deal

    def test_payout_during_an_outage_is_reconciled_never_paid_twice(self, app, runner, fake_stripe):
        """Found by the invariant machine (test_deals_and_ledger_never_lose_money): a Connect payout during an
        outage was treated as failed and an operator then paid by hand, so the ledger said paid while the
        seller's connected account had no transfer (or got a second one when Stripe came back)."""
        deal = make_deal(price=50_000_00, gateway="fake_stripe", stripe_account_id="acct_1Seller")
        pi_id = deals.start_payment(deal.id, deal.buyer)["payment_intent_id"]
        db.session.commit()
        fake_stripe.confirm(pi_id)
        deals.record_gateway_payment(deal.id, deal.price, "CNY", "fake_stripe", pi_id)
        operator = factories.make_user("operator")
        deals.open_dispute(deal.id, refresh(deal).buyer, "请平台确认验收")
        db.session.commit()
        fake_stripe.outage = True
        deals.resolve_dispute(deal.id, operator, "release")
        db.session.commit()
        deal = refresh(deal)
        assert deal.state == "released" and deal.payout_status == "failed"
        # still down: the outcome cannot be checked, so nothing may be recorded by hand
        with pytest.raises(Conflict):
            deals.mark_payout_paid(deal.id, "BOC20261204001", operator)
        db.session.rollback()
        assert refresh(deal).state == "released" and fake_stripe.transfers == {}
        # back up: still nobody may pay by hand; the sweep (flask deadlines run) looks the transfer up by the
        # deal's transfer group and retries under the same idempotency key, and books what the gateway did
        fake_stripe.outage = False
        with pytest.raises(Conflict):
            deals.mark_payout_paid(deal.id, "BOC20261204001", operator)
        db.session.rollback()
        assert gateway_calls.send_pending()["gateway_payouts_sent"] == 1
        assert gateway_calls.send_pending()["gateway_payouts_sent"] == 0  # settled: never sent twice
        deal = refresh(deal)
        transfers = fake_stripe.list_transfers(f"deal-{deal.id}")
        assert deal.state == "completed" and len(transfers) == 1
        assert deal.payout_reference == transfers[0]["id"] and transfers[0]["amount"] == deal.payout_amount
        assert _kinds() == []

    def test_a_completed_connect_deal_reconciles(self, app, runner, fake_stripe):
        self._completed_deal(fake_stripe)
        assert _run(runner)[0] == 0

    def test_transfer_differences_are_listed(self, app, runner, fake_stripe):
        deal = self._completed_deal(fake_stripe)
        fake_stripe.transfers[deal.payout_reference]["reversed"] = True
        fake_stripe.transfers["tr_stray"] = {"id": "tr_stray", "amount": 100, "currency": "cny",
                                             "destination": "acct_1Seller", "transfer_group": f"deal-{deal.id}",
                                             "source_transaction": None, "reversed": False, "metadata": {}}
        assert _kinds() == ["transfer_not_in_ledger", "transfer_reversed"]
        code, output = _run(runner)
        assert code == 1 and "tr_stray" in output and output.strip().endswith("2 mismatch(es)")

    def test_an_unreachable_provider_is_not_a_clean_bill(self, app, runner, fake_stripe):
        self._completed_deal(fake_stripe)
        fake_stripe.outage = True
        code, output = _run(runner)
        assert code == 1 and "unverifiable" in output

    def test_pending_refund_still_in_transit_is_fine_a_settled_one_is_not(self, app, runner, fake_stripe):
        deal = make_deal(price=20_000_00, gateway="fake_stripe")
        pi_id = deals.start_payment(deal.id, deal.buyer)["payment_intent_id"]
        fake_stripe.confirm(pi_id)
        deals.record_gateway_payment(deal.id, deal.price, "CNY", "fake_stripe", pi_id)
        fake_stripe.refund_status = "pending"
        deals.open_dispute(deal.id, deal.buyer, "权利存在瑕疵")
        deals.resolve_dispute(deal.id, factories.make_user("operator"), "refund")
        db.session.commit()
        assert _kinds() == []
        fake_stripe.settle_refund(refresh(deal).refund_reference)  # the webhook has not arrived
        assert _kinds() == ["refund_not_booked"]
        deals.record_gateway_refund(deal.id, 20_000_00, refresh(deal).refund_reference)
        db.session.commit()
        assert _kinds() == [] and ledger.deal_balances(refresh(deal))["refunded"] == 20_000_00


def test_without_stripe_nothing_to_check(app, runner):
    make_deal(gateway="offline")
    code, output = _run(runner)
    assert code == 0 and "checked 0 deal(s): no mismatch" in output
