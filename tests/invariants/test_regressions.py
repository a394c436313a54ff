"""Regression tests for bugs the invariant machine found (see docs/security.md, "Findings")."""
import pytest

from escrow import trading
from marketplace.kernel.errors import Conflict
from marketplace.kernel.extensions import db
from tests import factories


def test_services_raise_domain_errors_outside_a_request(app):
    """Bug: ``select_locale`` read ``request.args``, so a translated error raised by a service run outside a
    request (CLI, deadline job, a worker) was a RuntimeError instead of the domain error."""
    listing = factories.make_listing(status="reserved")
    buyer = factories.make_user("buyer")
    db.session.commit()
    with pytest.raises(Conflict):
        trading.buy_now(listing.id, buyer, "assignment")


def test_a_deal_held_back_twice_holds_its_money_each_time(app):
    """Bug (the escrow machine, ci profile, session 7): the hold of a release for an upheld claim was booked
    under one fixed key, so after an operator released the deal again a second upheld claim replayed the first
    hold: nothing was booked, the deal moved to disputed, and the money stayed payable to the seller. Each round
    of release and hold now has its own key (``escrow.deals._round_key``)."""
    import io

    from werkzeug.datastructures import FileStorage

    from escrow import deals
    from tests.factories import PDF, PNG
    from tests.invariants.checks import balances_of, check_books, check_money

    seller, buyer, operator = (factories.make_user(r) for r in ("seller", "buyer", "operator"))
    listing = factories.make_listing(seller, price=111_00, deal_types=("assignment",))
    db.session.commit()
    deal = deals.open_deal(listing, buyer, 111_00, "assignment", "purchase")
    factories.sign_contract(deal)
    deals.confirm_offline_payment(deal.id, deal.payment_reference, deal.price, operator)
    deals.file_transfer(deal.id, seller, FileStorage(io.BytesIO(PDF), "receipt.pdf", content_type="application/pdf"))
    factories.record_and_verify(deal, seller, operator, FileStorage(io.BytesIO(PNG), "notice.png", content_type="image/png"))
    deals.accept(deal.id, buyer)
    db.session.commit()
    assert deal.state == "released"

    def money():
        db.session.commit()
        check_books([deal.id])
        b = balances_of([deal.id])[deal.id]
        check_money(deal, b)
        return b

    for round_ in (1, 2, 3):
        deals.on_upheld_claim(deal.id, "权属异议成立")
        assert deal.state == "disputed"
        b = money()
        assert b["escrow"] == deal.price and b["seller_payable"] == 0, (round_, b)
        deals.resolve_dispute(deal.id, operator, "release")
        assert deal.state == "released"
        b = money()
        assert b["escrow"] == 0 and b["seller_payable"] + b["platform_fee"] == deal.price, (round_, b)
