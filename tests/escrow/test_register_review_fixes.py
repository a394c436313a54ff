"""Findings of the review of the rights register (each: the refused case changes nothing, the allowed case works)."""
import pytest

from escrow import trading
from escrow.models import Deal
from listings import lifecycle, register_input, rules
from listings.models import Listing, Offer
from marketplace.kernel.errors import Conflict
from marketplace.kernel.extensions import db
from tests import factories


def test_assignment_waits_for_a_licence_deal_under_way_and_a_licence_for_an_assignment(app, parties):
    listing = factories.make_listing(parties.seller, deal_types=("assignment", "non_exclusive_license"))
    other_buyer = factories.make_user("buyer")
    db.session.commit()
    licence = trading.buy_now(listing.id, parties.buyer, "non_exclusive_license")
    db.session.commit()
    with pytest.raises(rules.RuleBroken) as exc:
        trading.buy_now(listing.id, other_buyer, "assignment")
    db.session.rollback()
    assert listing.rights[0].number in exc.value.message
    assert db.session.query(Deal).count() == 1 and db.session.get(Listing, listing.id).status == "published"
    # once the licence deal is over, the assignment may open; then a licence waits for it
    from escrow import deals
    deals.cancel_deal(licence.id, parties.buyer)
    db.session.commit()
    assignment = trading.buy_now(listing.id, other_buyer, "assignment")
    db.session.commit()
    assert assignment.state == "awaiting_payment"
    second = factories.make_listing(parties.seller, number=listing.rights[0].number,
                                    deal_types=("non_exclusive_license",))
    db.session.commit()
    with pytest.raises(rules.RuleBroken):
        trading.buy_now(second.id, parties.buyer, "non_exclusive_license")
    db.session.rollback()
    assert db.session.query(Deal).count() == 2


def test_a_listing_with_a_deal_under_way_cannot_be_withdrawn(app, parties):
    listing = factories.make_listing(parties.seller, deal_types=("non_exclusive_license",))
    db.session.commit()
    deal = trading.buy_now(listing.id, parties.buyer, "non_exclusive_license")
    db.session.commit()
    with pytest.raises(Conflict):
        lifecycle.withdraw_listing(parties.seller, listing.id)
    db.session.rollback()
    assert db.session.get(Listing, listing.id).status == "published"
    from escrow import deals
    deals.cancel_deal(deal.id, parties.buyer)
    db.session.commit()
    assert lifecycle.withdraw_listing(parties.seller, listing.id).status == "withdrawn"


def test_accepting_a_non_exclusive_offer_leaves_other_buyers_offers_open(app, parties):
    listing = factories.make_listing(parties.seller, price_mode="negotiable", price=None,
                                     deal_types=("non_exclusive_license", "assignment"))
    other_buyer = factories.make_user("buyer")
    db.session.commit()
    first = trading.make_offer(listing.id, parties.buyer, 50_000_00, "non_exclusive_license")
    second = trading.make_offer(listing.id, other_buyer, 60_000_00, "non_exclusive_license")
    db.session.commit()
    trading.accept_offer(first.id, parties.seller)
    db.session.commit()
    assert db.session.get(Offer, second.id).status == "open"
    assert db.session.get(Listing, listing.id).status == "published"


def test_territories_fail_closed():
    assert rules.territories_overlap("全国范围", "广东省")  # unknown wording may cover the other
    assert rules.territories_overlap("华南地区", "广州")
    assert rules.territories_overlap("广州市", "广东省")
    assert not rules.territories_overlap("广东省", "浙江省")
    assert not rules.territories_overlap("广州", "深圳")
    assert not rules.territories_overlap("深圳", "浙江")


def test_id_numbers_are_at_least_half_masked():
    assert register_input.mask_id_number("440106199001011234") == "4401**********1234"
    masked = register_input.mask_id_number("E12345678")
    assert masked == "E1*****78" and masked.count("*") >= len(masked) // 2


def test_the_holders_authorisation_is_shown_to_operators_at_review_and_to_nobody_else(app, client, as_user, parties):
    import io

    from werkzeug.datastructures import FileStorage

    from listings import service

    listing = factories.make_listing(parties.seller, status="draft")
    db.session.commit()
    service.attach_document(parties.seller, listing.id, "authorization_doc",
                            FileStorage(io.BytesIO(b"%PDF-1.4 letter of authorisation"), filename="auth.pdf"))
    listing.status = "pending_review"
    db.session.commit()
    url = f"/listings/{listing.id}/documents/authorization_doc"
    as_user(factories.make_user("seller"))
    db.session.commit()  # the requests read the new seller in sessions of their own
    assert client.get(url).status_code == 404  # another organisation's seller
    as_user(parties.operator)
    response = client.get(url)
    assert response.status_code == 200 and response.data.startswith(b"%PDF")
    assert "查看权利人委托书" in client.get("/operator/listings/review").get_data(as_text=True)
