"""Natural persons sell (issue 13): a seller without an organisation lists the rights the register gives
to them as a natural-person holder (compared by platform user, never by name), is refused a right held
by another exactly like an organisation, and sells through a full deal after which the register records
the buyer as holder."""
from datetime import date

import pytest

from escrow import deals, trading
from escrow.models import Deal
from listings import register
from listings.models import Listing, Right, RightHolder
from marketplace.kernel.errors import DomainError
from marketplace.kernel.extensions import db
from tests import factories
from tests.escrow.conftest import Parties, drive

from .conftest import patent_payload

NUMBER = "201710601862.3"


def person(name="王小明"):
    user = factories.make_user("seller", "buyer", org=False, name=name)
    db.session.commit()
    return user


def counts():
    return (db.session.query(Listing).count(), db.session.query(Right).count(),
            db.session.query(RightHolder).count())


def person_holds(user, number=NUMBER, name=None, user_id="same"):
    """A register entry whose holder is a natural person (as an operator records it from CNIPA)."""
    right = Right(kind="patent", number=number, title="一种锂电池正极材料及其制备方法", patent_type="invention",
                  filing_date=date(2017, 7, 21), grant_date=date(2020, 3, 10), legal_status="granted",
                  ipc_codes=["H01M 4/36"])
    right.holders = [RightHolder(holder_type="person", name=name or user.name, id_type="resident_id",
                                 id_number_masked="4401**********1234",
                                 user_id=user.id if user_id == "same" else user_id)]
    db.session.add(right)
    db.session.commit()
    return right


def test_a_natural_person_lists_a_new_right_and_becomes_its_holder(client, api):
    seller = person()
    res = client.post("/api/v1/listings", json=patent_payload(), headers=api(seller))
    assert res.status_code == 201, res.json
    listing = db.session.get(Listing, res.json["listing"]["id"])
    assert listing.organization_id is None and listing.by_person
    assert res.json["listing"]["seller"] == {"type": "person", "name": "王小明", "organization": "",
                                             "verified": False}
    right = factories.find_right("patent", NUMBER)
    assert [(h.holder_type, h.organization_id, h.user_id) for h in right.holders] == [("person", None, seller.id)]


def test_a_natural_person_lists_the_right_the_register_gives_them(client, api):
    seller = person()
    right = person_holds(seller)
    res = client.post("/api/v1/listings", json=patent_payload(), headers=api(seller))
    assert res.status_code == 201, res.json
    assert res.json["warnings"] == [] or all(w["code"] != "authorisation" for w in res.json["warnings"])
    db.session.expire_all()
    assert [h.user_id for h in db.session.get(Right, right.id).holders] == [seller.id]
    assert db.session.get(Listing, res.json["listing"]["id"]).rights[0].id == right.id


def test_a_natural_person_listing_someone_elses_right_is_409_and_nothing_is_created(client, api):
    owner = factories.make_user("seller")  # an organisation holds it
    factories.make_listing(owner, number=NUMBER)
    db.session.commit()
    seller = person()
    before = counts()
    res = client.post("/api/v1/listings", json=patent_payload(), headers=api(seller))
    assert res.status_code == 409, res.json
    error = res.json["error"]
    assert error["code"] == "held_by_another" and owner.organization.name in error["message"]
    assert error["ways_forward"] == ["upload_authorization", "claim_to_operator"]
    db.session.expire_all()
    assert counts() == before


def test_the_holder_check_compares_the_user_not_the_name(client, api):
    """Another person of the same name, or an unlinked natural-person holder, is not this seller."""
    seller = person("李娜")
    namesake = factories.make_user("buyer", org=False, name="李娜")
    db.session.commit()
    person_holds(namesake, name="李娜")
    person_holds(seller, number="201710601863.8", name="李娜", user_id=None)  # not linked to any account
    before = counts()
    for number in (NUMBER, "201710601863.8"):
        res = client.post("/api/v1/listings", json=patent_payload(patent={"application_number": number}),
                          headers=api(seller))
        assert res.status_code == 409 and res.json["error"]["code"] == "held_by_another", res.json
    db.session.expire_all()
    assert counts() == before


def test_the_wizard_and_my_listings_work_for_a_natural_person(client, as_user):
    seller = person()
    as_user(seller)
    assert client.get("/listings/new?kind=patent").status_code == 200
    listing = factories.make_listing(seller, status="draft")
    db.session.commit()
    page = client.get("/my/listings").get_data(as_text=True)
    assert listing.title in page


def test_a_natural_persons_listing_sells_through_a_full_deal_and_the_buyer_becomes_holder(client, api, as_user):
    seller = person()
    buyer = factories.make_user("buyer")
    operator = factories.make_user("operator")
    db.session.commit()
    res = client.post("/api/v1/listings", json=patent_payload(deal_types=["assignment"]), headers=api(seller))
    assert res.status_code == 201, res.json
    listing_id = res.json["listing"]["id"]
    assert client.post(f"/api/v1/listings/{listing_id}/submit", headers=api(seller)).status_code == 200
    res = client.post(f"/api/v1/listings/{listing_id}/review", json={"decision": "approve"}, headers=api(operator))
    assert res.status_code == 200, res.json
    as_user(buyer)
    detail = client.get(f"/listings/{listing_id}").get_data(as_text=True)
    assert "卖方（个人）" in detail and "王小明" in detail

    res = client.post(f"/api/v1/listings/{listing_id}/purchase", json={"deal_type": "assignment"},
                      headers=api(buyer))
    assert res.status_code == 201, res.json
    deal_id = res.json["deal"]["id"]
    assert res.json["deal"]["seller"]["organization"] is None and res.json["deal"]["seller"]["name"] == "王小明"
    parties = Parties(buyer, seller, operator)
    drive(deal_id, "completed", parties)
    deal = db.session.get(Deal, deal_id)
    assert deal.state == "completed" and deal.organization_id is None
    assert deal.payout_status == "paid"
    right = factories.find_right("patent", NUMBER)
    db.session.refresh(right)
    assert [(h.holder_type, h.organization_id, h.user_id) for h in right.holders] == [("person", None, buyer.id)]
    assert [e.action for e in right.events if e.deal_id == deal_id] == ["assigned"]
    assert db.session.get(Listing, listing_id).status == "sold"
    # the deal and contract pages name the personal seller
    as_user(seller)
    page = client.get(f"/deals/{deal_id}").get_data(as_text=True)
    assert "王小明" in page and "（个人）" in page
    contract = client.get(f"/deals/{deal_id}/contract")
    assert contract.status_code == 200 and "王小明（自然人）" in contract.get_data(as_text=True)


def test_a_natural_person_claims_a_right_and_upholding_makes_them_the_holder(app):
    from tests.operator.conftest import file_storage

    owner = factories.make_user("seller")
    listing = factories.make_listing(owner, number=NUMBER)
    operator = factories.make_user("operator")
    claimant = person()
    db.session.commit()
    right = listing.rights[0]
    claim = register.file_claim(claimant, right, file_storage(), "专利证书上的专利权人是我")
    db.session.commit()
    assert claim.organization_id is None and claim.claimant_name == "王小明"
    register.decide_claim(operator, claim.id, "uphold", "核对专利证书与登记簿")
    db.session.commit()
    db.session.expire_all()
    right = db.session.get(Right, right.id)
    assert [(h.holder_type, h.user_id) for h in right.holders] == [("person", claimant.id)]
    assert db.session.get(Listing, listing.id).status == "withdrawn"


def test_co_owner_consent_by_a_natural_person_co_owner(app):
    from listings import rules, service

    org_seller = factories.make_user("seller")
    co_owner = person()
    listing = factories.make_listing(org_seller, status="draft", deal_types=("assignment",))
    right = listing.rights[0]
    right.holders.append(RightHolder(holder_type="person", user_id=co_owner.id, name=co_owner.name, position=1))
    db.session.commit()
    assert any(p.rule == "co_owner_consent" for p in rules.problems(listing, "submit"))
    service.consent_as_co_owner(co_owner, listing.id)
    db.session.commit()
    assert not any(p.rule == "co_owner_consent" for p in rules.problems(listing, "submit"))


def test_deals_open_for_a_natural_persons_listing_without_an_organisation(app):
    seller = person()
    buyer = factories.make_user("buyer")
    listing = factories.make_listing(seller, deal_types=("assignment",))
    db.session.commit()
    deal = trading.buy_now(listing.id, buyer, "assignment")
    db.session.commit()
    assert deal.organization_id is None and deal.seller_name == "王小明"
    # the seller cannot buy their own listing
    with pytest.raises(DomainError):
        deals.open_deal(listing, seller, 100, "assignment", "purchase")


def test_an_operator_links_a_natural_person_holder_to_their_account(client, as_user):
    seller = person()
    right = person_holds(seller, user_id=None)
    org_user = factories.make_user("seller")
    operator = factories.make_user("operator")
    db.session.commit()
    as_user(operator)
    row = {"holders-0-type": "person", "holders-0-name": "王小明", "holders-0-id_type": "resident_id",
           "holders-0-id_number_masked": "4401**********1234", "holders-reason": "按身份证核对"}
    path = f"/operator/rights/patent/{right.number}/holders"
    # an account of an organisation, or an unknown one, is refused and nothing changes
    for account, message in ((org_user.email, "该账户属于单位"), ("nobody@example.com", "平台上没有这个账户")):
        res = client.post(path, data={**row, "holders-0-account": account})
        assert res.status_code == 422 and message in res.get_data(as_text=True)
        db.session.expire_all()
        assert [h.user_id for h in db.session.get(Right, right.id).holders] == [None]
    res = client.post(path, data={**row, "holders-0-account": seller.email.upper()})
    assert res.status_code == 302
    db.session.expire_all()
    assert [(h.user_id, h.id_number_masked) for h in db.session.get(Right, right.id).holders] == [
        (seller.id, "4401**********1234")]
    assert seller.email in client.get(f"/rights/patent/{right.number}").get_data(as_text=True)



def test_the_register_api_tells_a_signed_in_seller_whether_they_hold_the_number(client, api, as_user):
    owner = factories.make_user("seller")
    factories.make_listing(owner, number=NUMBER)
    seller = person()
    mine = person_holds(seller, number="201710601863.8")
    res = client.get(f"/api/v1/rights/patent/{NUMBER}", headers=api(seller))
    assert res.status_code == 200
    conflict = res.json["viewer"]["held_by_another"]
    assert res.json["viewer"]["holds"] is False and conflict["code"] == "held_by_another"
    assert owner.organization.name in conflict["message"]
    assert conflict["ways_forward"] == ["upload_authorization", "claim_to_operator"]
    assert res.json["listing_input"]["patent"]["application_number"] == NUMBER
    as_user(seller)  # the wizard asks with its session
    res = client.get(f"/api/v1/rights/patent/{mine.number}")
    assert res.json["viewer"] == {"holds": True, "held_by_another": None}
    assert res.json["listing_input"]["patent"]["filing_date"] == "2017-07-21"
    client.post("/logout")
    res = client.get(f"/api/v1/rights/patent/{mine.number}")  # anonymous: the register's data, no viewer
    assert res.status_code == 200 and "viewer" not in res.json


def test_a_restricted_natural_person_sellers_deal_is_on_the_operators_watch_list(app):
    from marketplace.web.operator import _watched_deals_query

    seller = person()
    buyer = factories.make_user("buyer")
    listing = factories.make_listing(seller, deal_types=("assignment",))
    db.session.commit()
    deal = trading.buy_now(listing.id, buyer, "assignment")
    seller.credit_level = "restricted"
    db.session.commit()
    assert [d.id for d in _watched_deals_query()] == [deal.id]
