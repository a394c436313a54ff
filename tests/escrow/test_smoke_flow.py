from escrow import ledger
from escrow.models import Deal
from marketplace.kernel.extensions import db
from tests.escrow.conftest import drive


def test_assignment_deal_reaches_completed(app, open_deal, parties):
    deal = open_deal()
    deal = drive(deal.id, "completed", parties)
    assert deal.listing.status == "sold"
    bal = ledger.deal_balances(deal)
    assert bal["escrow"] == 0 and bal["paid_out"] == deal.price - deal.fee and bal["platform_fee"] == deal.fee
    assert ledger.unbalanced_entries() == []
    assert db.session.get(Deal, deal.id).state == "completed"
