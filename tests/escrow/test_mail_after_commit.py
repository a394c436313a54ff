"""Deal e-mail goes out only after the deal's transaction commits (issue 15): a failing mail server never
rolls back or half-applies a deal step, and a step that rolls back sends nothing.

In both job modes (issue 21): in-process at the commit (no REDIS_URL), or as an RQ "mail" job that a worker
sends (``run_jobs``: a burst worker; retried, then kept in the failed registry when the server stays down)."""

import pytest

from escrow import deals, ledger
from escrow.models import Deal
from marketplace.kernel import jobs
from marketplace.kernel.errors import Conflict
from marketplace.kernel.extensions import db
from tests.escrow.conftest import drive
from tests.jobhelp import config_for, forget_keys, job_modes, run_jobs


@pytest.fixture(params=job_modes())
def mode(request):
    return request.param


@pytest.fixture
def app_config(mode):
    return {**config_for(mode), "SMTP_HOST": "127.0.0.1", "SMTP_PORT": 2525}


@pytest.fixture(autouse=True)
def _clean_redis(app):
    yield
    forget_keys(app)
    jobs.set_app(None)


def test_mail_is_sent_after_commit_and_a_failing_server_changes_nothing(app, open_deal, parties, outbox):
    outbox.down = True
    deal = open_deal()
    run_jobs(app)
    failed_before = jobs.queue(False, app).failed_job_registry.count if jobs.enabled(app) else 0
    deals.confirm_offline_payment(deal.id, deal.payment_reference, deal.price, parties.operator)
    assert outbox.addressed() == []  # nothing before the commit
    db.session.commit()  # the mail server fails after the commit: logged, the deal step stands
    run_jobs(app)
    deal = db.session.get(Deal, deal.id)
    assert deal.state == "funded" and ledger.deal_balances(deal)["escrow"] == deal.price
    if jobs.enabled(app):  # retried, then kept as failed (not lost) for `flask jobs retry`
        assert jobs.queue(False, app).failed_job_registry.count - failed_before == 2  # the buyer's and seller's


def test_mail_goes_out_once_committed(app, open_deal, parties, outbox):
    deal = open_deal()
    run_jobs(app)  # mail of the steps before (worker mode)
    outbox.clear()
    deals.confirm_offline_payment(deal.id, deal.payment_reference, deal.price, parties.operator)
    assert outbox.addressed() == []
    db.session.commit()
    run_jobs(app)
    assert {to for to, _subject in outbox.addressed()} == {parties.buyer.email, parties.seller.email}
    assert not any(outbox.in_transaction)


def test_a_step_that_rolls_back_sends_nothing(app, open_deal, parties, outbox):
    deal = drive(open_deal().id, "released", parties)
    from escrow import payouts

    payouts.submit_account(parties.seller, "中国银行", "深圳分行", "6222021001009999",
                           parties.seller.organization.name)  # a change: payouts held
    db.session.commit()
    run_jobs(app)  # mail of the steps before (worker mode)
    outbox.clear()
    with pytest.raises(Conflict):
        deals.mark_payout_paid(deal.id, "BOC-ROLLBACK-1", parties.operator)
    db.session.rollback()
    db.session.commit()
    run_jobs(app)
    assert outbox.addressed() == [] and db.session.get(Deal, deal.id).state == "released"


def test_offer_mail_goes_out_after_commit_too(app, seller, buyer, outbox):
    from escrow import trading
    from tests import factories

    listing = factories.make_listing(seller, price=None, price_mode="negotiable")
    db.session.commit()
    run_jobs(app)  # mail of the steps before (worker mode)
    outbox.clear()
    trading.make_offer(listing.id, buyer, 50_000_00, "assignment", "诚意报价")
    assert outbox.addressed() == []
    db.session.commit()
    run_jobs(app)
    assert [to for to, _subject in outbox.addressed()] == [seller.email]
