"""Open licences (专利法第五十条至第五十二条): declaring, the rules that refuse a declaration, the catalogue, the
search filter and badge, taking in one step (three organisations), withdrawal, and leaving the catalogue when the
patent lapses or its term ends."""
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from escrow.models import Deal
from escrow.royalty_models import Licence
from listings import open_licence as ol
from listings import rules
from listings.models import Encumbrance, Listing, OpenLicence
from marketplace.kernel.extensions import db
from marketplace.kernel.timeutil import utcnow
from search.index import listing_document
from tests import factories
from tests.probes import nothing_changes

from .conftest import FIXED_TERMS, PERCENT_TERMS, take_and_pay


def _declarations():
    return db.session.scalar(select(func.count(OpenLicence.id)))


def _deals():
    return db.session.scalar(select(func.count(Deal.id)))


# --- declaring ---------------------------------------------------------------------------------------

def test_holder_declares_through_the_api_and_it_shows_in_the_catalogue_search_and_badge(app, client, people):
    listing = factories.make_listing(people.holder, deal_types=("non_exclusive_license",))
    other = factories.make_listing(factories.make_user("seller"), title="一种不开放许可的电池")
    db.session.commit()
    r = client.post(f"/api/v1/listings/{listing.id}/open-licence", json=PERCENT_TERMS,
                    headers=factories.auth_header(people.holder))
    assert r.status_code == 201, r.get_json()
    body = r.get_json()["open_licence"]
    assert body["status"] == "open" and body["royalty_bps"] == 500 and body["price_at_take"] == 100_000_00
    assert [d["listing_id"] for d in client.get("/api/v1/open-licences").get_json()["open_licences"]] == [listing.id]
    page = client.get("/open-licences").get_data(as_text=True)
    assert listing.title in page and "5%" in page
    assert listing_document(listing)["open_licence"] == 1 and listing_document(other)["open_licence"] == 0
    found = client.get("/api/v1/search?open_licence=1").get_json()
    assert [x["id"] for x in found["results"]] == [listing.id] and found["results"][0]["open_licence"] is True
    everything = client.get("/api/v1/search").get_json()
    assert {x["id"] for x in everything["results"]} >= {listing.id, other.id}
    assert client.get("/api/v1/search?open_licence=yes").status_code == 422
    detail = client.get(f"/listings/{listing.id}").get_data(as_text=True)
    assert "badge-open-licence" in detail and "接受条件，取得许可" not in detail  # anonymous: sign in first
    assert "badge-open-licence" in client.get("/search?open_licence=1").get_data(as_text=True)


@pytest.mark.parametrize("terms,field", [
    ({**PERCENT_TERMS, "royalty_bps": 0}, "royalty_bps"),
    ({**PERCENT_TERMS, "royalty_bps": 10_001}, "royalty_bps"),
    ({**PERCENT_TERMS, "royalty_bps": 5.5}, "royalty_bps"),
    ({**PERCENT_TERMS, "yearly_minimum": None}, "yearly_minimum"),
    ({**PERCENT_TERMS, "period": "month"}, "period"),
    ({**FIXED_TERMS, "annual_fee": -1}, "annual_fee"),
    ({**FIXED_TERMS, "annual_fee": True}, "annual_fee"),
    ({**FIXED_TERMS, "term_years": 21}, "term_years"),
    ({**FIXED_TERMS, "royalty_kind": "free"}, "royalty_kind"),
    ({**FIXED_TERMS, "surprise": 1}, "surprise"),
])
def test_bad_terms_are_refused_naming_the_field_and_nothing_is_stored(app, client, people, terms, field):
    listing = factories.make_listing(people.holder, deal_types=("non_exclusive_license",))
    db.session.commit()
    r = client.post(f"/api/v1/listings/{listing.id}/open-licence", json=terms,
                    headers=factories.auth_header(people.holder))
    assert r.status_code == 422 and field in r.get_json()["error"]["fields"]
    assert _declarations() == 0


def _refusal(client, people, listing):
    headers = factories.auth_header(people.holder)
    with nothing_changes():  # no declaration, the listing and its rights as they were
        r = client.post(f"/api/v1/listings/{listing.id}/open-licence", json=PERCENT_TERMS, headers=headers)
    assert _declarations() == 0
    return r


def test_a_trademark_cannot_be_openly_licensed(app, client, people):
    listing = factories.make_listing(people.holder, kind="trademark", deal_types=("non_exclusive_license",))
    db.session.commit()
    r = _refusal(client, people, listing)
    assert r.status_code == 409 and "商标" in r.get_json()["error"]["message"]


def test_a_pledged_patent_needs_the_pledgees_consent(app, client, people):
    listing = factories.make_listing(people.holder, deal_types=("non_exclusive_license",))
    listing.rights[0].encumbrances.append(Encumbrance(kind="pledge", party_name="某银行", source="operator"))
    db.session.commit()
    r = _refusal(client, people, listing)
    assert r.status_code == 409 and "质押" in r.get_json()["error"]["message"]
    listing.pledge_consent = "consent.pdf"  # with the consent on the listing it is allowed
    db.session.commit()
    assert client.post(f"/api/v1/listings/{listing.id}/open-licence", json=PERCENT_TERMS,
                       headers=factories.auth_header(people.holder)).status_code == 201


def test_a_patent_under_an_exclusive_licence_cannot_be_declared(app, client, people):
    listing = factories.make_listing(people.holder, deal_types=("non_exclusive_license",))
    listing.rights[0].encumbrances.append(Encumbrance(kind="licence", licence_type="exclusive", party_name="甲公司",
                                                      ends_on=date.today() + timedelta(days=400), source="operator"))
    db.session.commit()
    r = _refusal(client, people, listing)
    assert r.status_code == 409 and "独占或排他许可" in r.get_json()["error"]["message"]


def test_a_listing_offering_an_exclusive_licence_cannot_be_declared(app, client, people):
    listing = factories.make_listing(people.holder, deal_types=("non_exclusive_license", "exclusive_license"))
    db.session.commit()
    r = _refusal(client, people, listing)
    assert r.status_code == 409 and "开放许可期间不得给予独占或排他许可" in r.get_json()["error"]["message"]


def test_only_the_holders_side_declares(app, client, people):
    listing = factories.make_listing(people.holder, deal_types=("non_exclusive_license",))
    db.session.commit()
    for user in (factories.make_user("seller"), people.takers[0]):
        db.session.commit()
        r = client.post(f"/api/v1/listings/{listing.id}/open-licence", json=PERCENT_TERMS,
                        headers=factories.auth_header(user))
        assert r.status_code == 403
    assert _declarations() == 0


def test_a_lapsed_patent_cannot_be_declared(app, client, people):
    listing = factories.make_listing(people.holder, deal_types=("non_exclusive_license",))
    listing.rights[0].legal_status = "lapsed"
    db.session.commit()
    r = _refusal(client, people, listing)
    assert r.status_code == 409 and "不是有效的已授权专利" in r.get_json()["error"]["message"]


def test_a_second_declaration_on_the_listing_is_refused(app, client, people, declared):
    decl = declared()
    r = client.post(f"/api/v1/listings/{decl.listing_id}/open-licence", json=FIXED_TERMS,
                    headers=factories.auth_header(people.holder))
    assert r.status_code == 409 and _declarations() == 1


# --- the register rule -------------------------------------------------------------------------------

def test_no_exclusive_or_sole_licence_while_an_open_licence_stands(app, people, declared):
    decl = declared()
    number = decl.listing.rights[0].number
    other = factories.make_listing(people.holder, number=number, status="draft",
                                   deal_types=("exclusive_license",))
    db.session.flush()
    found = rules.problems(other, "draft")
    assert [p.rule for p in found] == ["open_licence"] and number in found[0].message
    assert [p.rule for p in rules.problems(other, "draft", deal_type="non_exclusive_license")] == []  # allowed
    ol.withdraw(decl.id, people.holder)
    db.session.flush()
    assert rules.problems(other, "draft") == []  # withdrawn: allowed again


# --- taking -----------------------------------------------------------------------------------------------

def test_three_organisations_take_licences_at_the_published_terms(app, client, people, declared):
    decl = declared()
    for taker in people.takers:
        r = client.post(f"/api/v1/open-licences/{decl.id}/take", headers=factories.auth_header(taker))
        assert r.status_code == 201, r.get_json()
        licence = r.get_json()["licence"]
        assert licence["royalty_bps"] == 500 and licence["period"] == "quarter"
        assert licence["yearly_minimum"] == 100_000_00 and licence["advance_credit"] is True
        deal = db.session.get(Deal, r.get_json()["deal_id"])
        assert deal.deal_type == "non_exclusive_license" and deal.price == 100_000_00 and deal.source == "open_licence"
        assert deal.license_end == deal.license_start.replace(year=deal.license_start.year + 3) - timedelta(days=1)
    assert db.session.get(Listing, decl.listing_id).status == "published"  # non-exclusive: stays on offer
    from escrow import contracts

    assert "开放许可" in contracts.contract_of(deal).text and "5%" in contracts.contract_of(deal).text


@pytest.mark.parametrize("who,status", [("holder_colleague", 403), ("unverified", 403), ("person", 403)])
def test_take_refusals_store_nothing(app, client, people, declared, who, status):
    decl = declared()
    user = {"holder_colleague": lambda: factories.make_user("buyer", org=people.holder.organization),
            "unverified": lambda: factories.make_user("buyer", org=factories.make_org(verified=False)),
            "person": lambda: factories.make_user("buyer")}[who]()
    db.session.commit()
    r = client.post(f"/api/v1/open-licences/{decl.id}/take", headers=factories.auth_header(user))
    assert r.status_code == status and _deals() == 0


def test_take_on_a_withdrawn_declaration_is_refused(app, client, people, declared):
    decl = declared()
    r = client.post(f"/api/v1/open-licences/{decl.id}/withdraw", json={"reason": "改为独家许可谈判"},
                    headers=factories.auth_header(people.holder))
    assert r.status_code == 200 and r.get_json()["open_licence"]["status"] == "withdrawn"
    r = client.post(f"/api/v1/open-licences/{decl.id}/take", headers=factories.auth_header(people.takers[0]))
    assert r.status_code == 409 and _deals() == 0
    assert client.get("/api/v1/open-licences").get_json()["open_licences"] == []
    r = client.post(f"/api/v1/open-licences/{decl.id}/withdraw", headers=factories.auth_header(people.holder))
    assert r.status_code == 409  # twice


def test_a_second_take_by_the_same_organisation_is_refused(app, client, people, declared):
    decl = declared()
    taker = people.takers[0]
    assert client.post(f"/api/v1/open-licences/{decl.id}/take",
                       headers=factories.auth_header(taker)).status_code == 201
    colleague = factories.make_user("buyer", org=taker.organization)
    db.session.commit()
    r = client.post(f"/api/v1/open-licences/{decl.id}/take", headers=factories.auth_header(colleague))
    assert r.status_code == 409 and _deals() == 1


def test_withdrawal_leaves_granted_licences_in_force(app, people, declared):
    decl = declared(FIXED_TERMS)
    _deal, licence = take_and_pay(decl, people.takers[0], people.operator)
    assert licence.status == "active"
    ol.withdraw(decl.id, people.holder)
    db.session.commit()
    from escrow.deadlines import run_deadlines

    run_deadlines(utcnow() + timedelta(days=1))
    db.session.refresh(licence)
    assert licence.status == "active" and [p.amount for p in licence.periods] == [80_000_00, 80_000_00]


def test_only_the_holder_withdraws(app, client, people, declared):
    decl = declared()
    r = client.post(f"/api/v1/open-licences/{decl.id}/withdraw", headers=factories.auth_header(people.takers[0]))
    assert r.status_code == 403
    db.session.refresh(decl)
    assert decl.status == "open"


# --- leaving the catalogue ------------------------------------------------------------------------------

def test_a_lapsed_patent_leaves_the_catalogue_at_once_and_the_deadline_closes_the_declaration(app, client, people,
                                                                                              declared):
    decl = declared()
    keep = declared(FIXED_TERMS)
    right = decl.listing.rights[0]
    right.legal_status = "lapsed"
    db.session.commit()
    assert [d.id for d in ol.catalogue()] == [keep.id]  # the query condition, before any job ran
    from escrow.deadlines import run_deadlines

    report = run_deadlines(utcnow())
    assert report["open_licences_lapsed"] == 1
    db.session.refresh(decl)
    assert decl.status == "lapsed" and right.number in decl.lapsed_reason
    assert listing_document(decl.listing)["open_licence"] == 0
    r = client.post(f"/api/v1/open-licences/{decl.id}/take", headers=factories.auth_header(people.takers[0]))
    assert r.status_code == 409


def test_a_patent_whose_term_ends_leaves_the_catalogue(app, people, declared):
    decl = declared()
    decl.listing.rights[0].filing_date = date(2005, 1, 1)  # an invention's 20 years ended on 2025-01-01
    db.session.commit()
    assert ol.catalogue() == []
    from escrow.deadlines import run_deadlines

    assert run_deadlines(utcnow())["open_licences_lapsed"] == 1


def test_licences_taken_exist_once_per_deal(app, people, declared):
    decl = declared()
    for taker in people.takers:
        ol.take(decl.id, taker)
    db.session.commit()
    assert db.session.scalar(select(func.count(Licence.id)).where(Licence.open_licence_id == decl.id)) == 3
