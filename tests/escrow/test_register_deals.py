"""Deals change the rights register: an assignment moves the right (and takes its other listings off
the market), a licence adds a licence, a refund after recordal goes through the transfer back, and an
assignment of a licensed right needs the buyer's acknowledgement before paying."""
from datetime import date, timedelta

import pytest

from escrow import deals, trading
from escrow.models import Deal
from listings.models import Encumbrance, Listing
from listings.rules import RuleBroken
from marketplace.kernel.extensions import db
from tests import factories
from tests.invariants import checks

from .conftest import PNG, drive, upload


def _holders(right):
    db.session.refresh(right)
    return [(h.holder_type, h.organization_id, h.user_id) for h in right.holders]


def test_recorded_assignment_makes_the_buyers_organisation_the_holder_and_withdraws_other_listings(app, parties):
    parties.buyer.organization = factories.make_org()
    sold = factories.make_listing(parties.seller, deal_types=("assignment",))
    right = sold.rights[0]
    other = factories.make_listing(parties.seller, number=right.number, deal_types=("non_exclusive_license",))
    draft = factories.make_listing(parties.seller, number=right.number, status="draft",
                                   deal_types=("non_exclusive_license",))
    db.session.commit()
    assert _holders(right) == [("organization", parties.seller.organization_id, None)]

    deal = trading.buy_now(sold.id, parties.buyer, "assignment")
    db.session.commit()
    drive(deal.id, "transfer_recorded", parties)

    assert _holders(right) == [("organization", parties.buyer.organization_id, None)]
    db.session.expire_all()
    assert db.session.get(Listing, other.id).status == "withdrawn"
    assert db.session.get(Listing, draft.id).status == "withdrawn"
    assert db.session.get(Listing, sold.id).status == "reserved"
    assert [e.action for e in right.events if e.deal_id == deal.id] == ["assigned"]


def test_person_buyer_becomes_the_holder_as_a_natural_person(app, parties, open_deal):
    deal = open_deal("assignment")
    drive(deal.id, "transfer_recorded", parties)
    right = deal.listing.rights[0]
    assert _holders(right) == [("person", None, parties.buyer.id)]


def test_non_exclusive_licence_sells_twice_and_the_cap_stops_the_third(app, parties):
    listing = factories.make_listing(parties.seller, deal_types=("non_exclusive_license",), license_cap=2)
    second_buyer, third_buyer = factories.make_user("buyer"), factories.make_user("buyer")
    db.session.commit()
    first = trading.buy_now(listing.id, parties.buyer, "non_exclusive_license")
    db.session.commit()
    second = trading.buy_now(listing.id, second_buyer, "non_exclusive_license")
    db.session.commit()
    assert first.id != second.id and db.session.get(Listing, listing.id).status == "published"
    with pytest.raises(RuleBroken) as exc:
        trading.buy_now(listing.id, third_buyer, "non_exclusive_license")
    db.session.rollback()
    assert [r["code"] for r in exc.value.extra["rules"]] == ["licence_cap"]
    assert db.session.query(Deal).count() == 2

    # A cancelled licence deal frees its place under the cap.
    deals.cancel_deal(first.id, parties.buyer)
    db.session.commit()
    third = trading.buy_now(listing.id, third_buyer, "non_exclusive_license")
    db.session.commit()
    assert third.state == "awaiting_payment"


@pytest.mark.parametrize("deal_type,licence_type", [("non_exclusive_license", "non_exclusive"),
                                                    ("exclusive_license", "exclusive")])
def test_recorded_licence_deal_adds_a_licence_to_the_register(app, parties, open_deal, deal_type, licence_type):
    deal = open_deal(deal_type)
    drive(deal.id, "transfer_recorded", parties)
    right = deal.listing.rights[0]
    db.session.refresh(right)
    licences = [e for e in right.encumbrances if e.kind == "licence"]
    assert len(licences) == 1
    lic = licences[0]
    assert lic.licence_type == licence_type and lic.deal_id == deal.id and lic.source == "platform"
    assert lic.party_user_id == parties.buyer.id and lic.territory == deal.license_territory
    assert lic.starts_on == deal.license_start and lic.ends_on == deal.license_end
    assert lic.in_force(date.today())
    assert _holders(right) == [("organization", parties.seller.organization_id, None)]  # a licence moves nothing


def test_exclusive_licence_sold_blocks_the_next_licence_deal(app, parties, open_deal):
    deal = open_deal("exclusive_license")
    drive(deal.id, "transfer_recorded", parties)
    listing = factories.make_listing(parties.seller, number=deal.listing.rights[0].number,
                                     deal_types=("non_exclusive_license",))
    another = factories.make_user("buyer")
    db.session.commit()
    with pytest.raises(RuleBroken) as exc:
        trading.buy_now(listing.id, another, "non_exclusive_license")
    db.session.rollback()
    assert [r["code"] for r in exc.value.extra["rules"]] == ["licence_conflict"]
    assert deal.listing.rights[0].number in exc.value.message


def test_refund_after_recordal_goes_through_the_transfer_back(app, parties, open_deal):
    deal = open_deal("assignment")
    right = deal.listing.rights[0]
    seller_holders = _holders(right)
    drive(deal.id, "transfer_back", parties)
    assert _holders(right) == [("person", None, parties.buyer.id)]  # still the buyer's until the transfer back
    deal = db.session.get(Deal, deal.id)
    assert deal.refund_amount is None
    checks.check_ledger()

    deals.confirm_reversal(deal.id, parties.operator, note="回转登记通知书已核对")
    db.session.commit()
    deal = db.session.get(Deal, deal.id)
    assert deal.state == "refunded" and deal.refund_amount == deal.price
    assert _holders(right) == seller_holders
    assert [e.action for e in right.events if e.deal_id == deal.id] == ["assigned", "reassigned_back"]
    assert db.session.get(Listing, deal.listing_id).status == "published"
    books = checks.check_books([deal.id])
    assert books[deal.id].state == "refunded"


def test_transfer_back_is_refused_when_the_buyer_no_longer_holds_the_right(app, parties, open_deal):
    """A reversal never overwrites a later holder: if the register no longer shows the right as the deal left
    it (the buyer assigned it on, or an operator corrected it), the operator must decide otherwise."""
    from listings import register
    from marketplace.kernel.errors import Conflict

    deal = open_deal("assignment")
    right = deal.listing.rights[0]
    drive(deal.id, "transfer_back", parties)
    later = factories.make_user("seller")
    register.correct_holders(parties.operator, right, [{"type": "organization", "organization_id": later.organization_id,
                                                        "name": later.organization.name}], "买方已再转让，依公告更正")
    db.session.commit()
    with pytest.raises(Conflict) as exc:
        deals.confirm_reversal(deal.id, parties.operator)
    db.session.rollback()
    assert right.number in exc.value.message
    deal = db.session.get(Deal, deal.id)
    assert deal.state == "transfer_back" and deal.refund_amount is None
    assert _holders(right) == [("organization", later.organization_id, None)]
    checks.check_books([deal.id])


def test_refunded_licence_deal_ends_its_licence(app, parties, open_deal):
    deal = open_deal("exclusive_license")
    drive(deal.id, "transfer_back", parties)
    deals.confirm_reversal(deal.id, parties.operator)
    db.session.commit()
    right = deal.listing.rights[0]
    db.session.refresh(right)
    assert right.licences_in_force() == []
    checks.check_books([deal.id])


def test_split_after_recordal_pays_the_share_after_the_transfer_back(app, parties, open_deal):
    deal = open_deal("assignment", price=100_000_00)
    drive(deal.id, "transfer_recorded", parties)
    deals.open_dispute(deal.id, parties.buyer, "登记后发现权利要求有瑕疵")
    db.session.commit()
    deals.resolve_dispute(deal.id, parties.operator, "split", seller_share=40_000_00)
    db.session.commit()
    assert db.session.get(Deal, deal.id).state == "transfer_back"
    deals.confirm_reversal(deal.id, parties.operator)
    db.session.commit()
    deal = db.session.get(Deal, deal.id)
    assert deal.state == "released" and deal.refund_amount == 60_000_00
    checks.check_ledger()


def test_assignment_of_a_licensed_right_needs_acknowledgement_before_paying(app, client, parties):
    listing = factories.make_listing(parties.seller, deal_types=("assignment",))
    listing.rights[0].encumbrances.append(Encumbrance(
        kind="licence", licence_type="non_exclusive", party_name="在先被许可人", territory="广东省",
        source="operator", ends_on=date.today() + timedelta(days=200)))
    db.session.commit()
    deal = trading.buy_now(listing.id, parties.buyer, "assignment")
    factories.sign_contract(deal)
    db.session.commit()
    assert "在先被许可人" in deal.contract.text  # the contract names the licence that survives
    headers = factories.auth_header(parties.buyer)
    db.session.commit()

    res = client.post(f"/api/v1/deals/{deal.id}/pay", headers=headers)
    assert res.status_code == 409, res.json
    assert res.json["error"]["code_hint"] == "acknowledge_licences"

    seller_headers = factories.auth_header(parties.seller)
    db.session.commit()
    assert client.post(f"/api/v1/deals/{deal.id}/acknowledge-licences", headers=seller_headers).status_code == 403
    res = client.post(f"/api/v1/deals/{deal.id}/acknowledge-licences", headers=headers)
    assert res.status_code == 200, res.json
    assert client.post(f"/api/v1/deals/{deal.id}/pay", headers=headers).status_code == 200
    db.session.expire_all()
    assert db.session.get(Deal, deal.id).licences_acknowledged_at is not None


def test_licence_deal_needs_no_acknowledgement(app, client, parties, open_deal):
    deal = open_deal("non_exclusive_license")
    headers = factories.auth_header(parties.buyer)
    db.session.commit()
    r = client.post(f"/api/v1/deals/{deal.id}/pay", headers=headers)
    assert r.status_code == 200 and r.get_json()["amount"] == deal.price, r.get_json()
    db.session.expire_all()
    assert db.session.get(Deal, deal.id).licences_acknowledged_at is None  # nothing to acknowledge


def test_exclusive_licence_deal_cannot_be_recorded_beside_a_running_non_exclusive_one(app, parties):
    """A non-exclusive listing and an exclusive listing of one right may both be on sale (no licence is
    in force yet); whichever deal is recorded second must not put overlapping licences in force."""
    non_exclusive = factories.make_listing(parties.seller, deal_types=("non_exclusive_license",))
    right = non_exclusive.rights[0]
    exclusive = factories.make_listing(parties.seller, number=right.number, deal_types=("exclusive_license",))
    other_buyer = factories.make_user("buyer")
    db.session.commit()
    first = trading.buy_now(non_exclusive.id, parties.buyer, "non_exclusive_license")
    db.session.commit()
    try:
        second = trading.buy_now(exclusive.id, other_buyer, "exclusive_license")
        db.session.commit()
    except RuleBroken as exc:  # refused while the first licence is under way
        db.session.rollback()
        assert right.number in exc.message
        second = None
    drive(first.id, "transfer_recorded", parties)
    if second is not None:
        try:
            deals.confirm_offline_payment(second.id, second.payment_reference, second.price, parties.operator)
            deals.file_transfer(second.id, parties.seller, upload())
            deals.record_transfer(second.id, parties.seller, upload(PNG, "notice.png"))
            db.session.commit()
        except RuleBroken:
            db.session.rollback()
    db.session.refresh(right)
    types = sorted(e.licence_type for e in right.licences_in_force())
    assert types in (["non_exclusive"], ["exclusive"]), types
