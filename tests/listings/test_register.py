"""The rights register seen from listing: who may list a number, what the register fills in, and the
rule book's refusals (one offer per right, pledges, licences, 商标法第四十二条), through the JSON API
and, where the wizard carries the field, the HTML form."""
import io
from datetime import date, timedelta

from werkzeug.datastructures import FileStorage

from listings import service
from listings.models import Encumbrance, Listing, Right
from marketplace.kernel.extensions import db
from tests import factories
from tests.factories import PDF

from .conftest import patent_payload, trademark_payload


def create(client, headers, body):
    return client.post("/api/v1/listings", json=body, headers=headers)


def submit(client, headers, listing_id):
    return client.post(f"/api/v1/listings/{listing_id}/submit", headers=headers)


def counts():
    return db.session.query(Listing).count(), db.session.query(Right).count()


def pdf(name="doc.pdf"):
    return FileStorage(stream=io.BytesIO(PDF), filename=name, content_type="application/pdf")


def other_holds(number, kind="patent", **kw):
    """Another organisation's published listing of ``number`` (the register gives it that right)."""
    other = factories.make_user("seller")
    listing = factories.make_listing(other, kind=kind, number=number, **kw)
    db.session.commit()
    return other, listing


def publish(client, api, seller, operator, listing_id):
    res = submit(client, api(seller), listing_id)
    assert res.status_code == 200, res.json
    res = client.post(f"/api/v1/listings/{listing_id}/review", json={"decision": "approve"}, headers=api(operator))
    assert res.status_code == 200, res.json


# --- who may list a number ---------------------------------------------------------------

def test_number_held_by_another_organisation_is_409_naming_the_holder_and_nothing_is_created(client, seller, api):
    other, _listing = other_holds("201710601862.3")
    before = counts()
    res = create(client, api(seller), patent_payload(patent={"application_number": "ZL 2017 1 0601862.3"}))
    assert res.status_code == 409, res.json
    error = res.json["error"]
    assert error["code"] == "held_by_another"
    assert other.organization.name in error["message"] and "201710601862.3" in error["message"]
    assert error["rights"][0]["holders"] == [other.organization.name]
    db.session.expire_all()
    assert counts() == before


def test_wizard_refuses_a_number_held_by_another_and_names_the_holder(client, seller, as_user):
    from tests.listings.test_pages import _wizard_form

    other, _listing = other_holds("201710601862.3")
    before = counts()
    as_user(seller)
    res = client.post("/listings/new?kind=patent", data=_wizard_form())
    assert res.status_code == 409
    assert other.organization.name in res.get_data(as_text=True)
    db.session.expire_all()
    assert counts() == before


def test_acting_for_the_holders_makes_a_draft_that_waits_for_the_authorisation(client, seller, api):
    other, _listing = other_holds("201710601862.3")
    res = create(client, api(seller), patent_payload(acts_for_holders=True, deal_types=["non_exclusive_license"]))
    assert res.status_code == 201, res.json
    listing_id = res.json["listing"]["id"]
    assert any(w["code"] == "authorisation" for w in res.json["warnings"])
    right = factories.find_right("patent", "201710601862.3")
    assert right.holder_names == [other.organization.name]  # the register is not changed by an agent

    res = submit(client, api(seller), listing_id)
    assert res.status_code in (409, 422), res.json
    assert "authorization_doc" in res.json["error"]["fields"]
    assert "201710601862.3" in res.json["error"]["fields"]["authorization_doc"]

    service.attach_document(seller, listing_id, "authorization_doc", pdf())
    db.session.commit()
    res = submit(client, api(seller), listing_id)
    assert res.status_code == 200, res.json
    assert res.json["listing"]["status"] == "pending_review"


# --- the register fills in what it knows ---------------------------------------------------

def test_a_known_number_alone_fills_the_register_data(client, seller, api):
    first = create(client, api(seller), patent_payload())
    assert first.status_code == 201, first.json
    body = patent_payload(deal_types=["non_exclusive_license"])
    body["rights"] = [{"patent": {"application_number": "2017106018623"}}]
    res = create(client, api(seller), body)
    assert res.status_code == 201, res.json
    right = res.json["listing"]["rights"][0]
    assert right["application_number"] == "201710601862.3"
    assert right["title"] == "一种锂电池正极材料及其制备方法" and right["legal_status"] == "granted"
    assert right["ipc_codes"] == ["H01M 4/36", "H01M 4/525"]
    assert db.session.query(Right).count() == 1


def test_a_register_reference_fills_the_data(client, seller, api):
    assert create(client, api(seller), trademark_payload()).status_code == 201
    body = trademark_payload(deal_types=["non_exclusive_license"])
    body["rights"] = [{"register": {"kind": "trademark", "number": "第12345678号"}}]
    res = create(client, api(seller), body)
    assert res.status_code == 201, res.json
    right = res.json["listing"]["rights"][0]
    assert right["registration_number"] == "12345678" and right["nice_classes"] == [9, 42]
    assert right["similar_groups"] == ["0901", "4220"]
    assert db.session.query(Right).count() == 1


def test_madrid_number_is_accepted_and_stored_as_such(client, seller, api):
    res = create(client, api(seller), trademark_payload(trademark={"registration_number": "g 1234567"}))
    assert res.status_code == 201, res.json
    assert res.json["listing"]["rights"][0]["registration_number"] == "G1234567"
    right = factories.find_right("trademark", "G1234567")
    assert right is not None and right.madrid is True


# --- one offer per right -------------------------------------------------------------------

def test_same_right_in_two_assignment_listings_second_refused_at_submit(client, seller, api):
    a = create(client, api(seller), patent_payload())
    b = create(client, api(seller), patent_payload())
    assert a.status_code == b.status_code == 201
    assert submit(client, api(seller), a.json["listing"]["id"]).status_code == 200
    res = submit(client, api(seller), b.json["listing"]["id"])
    assert res.status_code in (409, 422), res.json
    assert "201710601862.3" in str(res.json["error"]["fields"])
    assert db.session.get(Listing, b.json["listing"]["id"]).status == "draft"


def test_same_right_refused_at_draft_when_another_listing_is_live(client, seller, operator, api):
    a = create(client, api(seller), patent_payload(deal_types=["assignment"]))
    publish(client, api, seller, operator, a.json["listing"]["id"])
    before = counts()
    res = create(client, api(seller), patent_payload(deal_types=["assignment"]))
    assert res.status_code == 409, res.json
    assert res.json["error"]["code"] == "rule_broken" and "201710601862.3" in str(res.json["error"]["fields"])
    assert any(r["code"] == "already_offered" for r in res.json["error"]["rules"])
    db.session.expire_all()
    assert counts() == before


def test_non_exclusive_listings_of_one_right_coexist(client, seller, operator, api):
    ids = []
    for _ in range(2):
        res = create(client, api(seller), patent_payload(deal_types=["non_exclusive_license"],
                                                         license_territory="广东省"))
        assert res.status_code == 201, res.json
        ids.append(res.json["listing"]["id"])
    for listing_id in ids:
        publish(client, api, seller, operator, listing_id)
    assert {db.session.get(Listing, i).status for i in ids} == {"published"}


# --- pledges -------------------------------------------------------------------------------

def test_pledged_patent_needs_the_pledgees_consent_for_every_deal_type(client, seller, api):
    for deal_type in ("assignment", "exclusive_license", "sole_license", "non_exclusive_license"):
        number = factories.unique_patent_number(hash(deal_type) % 1000)
        res = create(client, api(seller), patent_payload(deal_types=[deal_type], patent={
            "application_number": number, "pledged": True}))
        assert res.status_code == 201, (deal_type, res.json)
        listing_id = res.json["listing"]["id"]
        assert any(w["code"] == "pledge_consent" for w in res.json["warnings"]), deal_type
        res = submit(client, api(seller), listing_id)
        assert res.status_code in (409, 422), deal_type
        assert number in res.json["error"]["fields"]["pledge_consent"], deal_type
        res = client.post(f"/api/v1/listings/{listing_id}/pledge-consent", headers=api(seller),
                          data={"document": (io.BytesIO(PDF), "consent.pdf")}, content_type="multipart/form-data")
        assert res.status_code == 200, res.json
        assert submit(client, api(seller), listing_id).status_code == 200, deal_type


def test_pledged_trademark_needs_the_pledgees_consent(client, seller, api):
    res = create(client, api(seller), trademark_payload(trademark={"pledged": True}))
    assert res.status_code == 201, res.json
    right = factories.find_right("trademark", "12345678")
    assert right.pledged
    res = submit(client, api(seller), res.json["listing"]["id"])
    assert res.status_code in (409, 422)
    assert "12345678" in res.json["error"]["fields"]["pledge_consent"]


# --- licences --------------------------------------------------------------------------------

def _exclusive_licence(right, territory="中国大陆", until=None):
    right.encumbrances.append(Encumbrance(kind="licence", licence_type="exclusive", party_name="独占被许可人",
                                          territory=territory, source="operator",
                                          ends_on=until or date.today() + timedelta(days=365)))
    db.session.commit()


def test_exclusive_licence_in_force_blocks_other_licences_in_an_overlapping_territory(client, seller, api):
    res = create(client, api(seller), patent_payload(deal_types=["assignment"]))
    assert res.status_code == 201
    _exclusive_licence(factories.find_right("patent", "201710601862.3"))
    for deal_type in ("non_exclusive_license", "exclusive_license"):
        before = counts()
        res = create(client, api(seller), patent_payload(deal_types=[deal_type], license_territory="广东省"))
        assert res.status_code == 409, (deal_type, res.json)
        assert "201710601862.3" in str(res.json["error"]["fields"])
        assert [r["code"] for r in res.json["error"]["rules"]] == ["licence_conflict"]
        db.session.expire_all()
        assert counts() == before


def test_exclusive_licence_elsewhere_leaves_other_territories_free(client, seller, api):
    res = create(client, api(seller), patent_payload(deal_types=["assignment"]))
    assert res.status_code == 201
    _exclusive_licence(factories.find_right("patent", "201710601862.3"), territory="广东省")
    res = create(client, api(seller), patent_payload(deal_types=["non_exclusive_license"],
                                                     license_territory="浙江省"))
    assert res.status_code == 201, res.json
    assert res.json["listing"]["deal_types"] == ["non_exclusive_license"]
    assert res.json["listing"]["license_territory"] == "浙江省"
    assert db.session.get(Listing, res.json["listing"]["id"]).rights[0].number == "201710601862.3"


def test_declared_exclusive_licence_blocks_a_non_exclusive_offer(client, seller, api):
    until = (date.today() + timedelta(days=400)).isoformat()
    res = create(client, api(seller), patent_payload(deal_types=["non_exclusive_license"], patent={
        "exclusive_license_until": until}))
    assert res.status_code == 409, res.json
    assert "201710601862.3" in res.json["error"]["fields"]["deal_types"]


# --- 商标法第四十二条 ----------------------------------------------------------------------

def _trademark(client, api, seller, number, text, groups, classes, deal_types=("non_exclusive_license",)):
    res = create(client, api(seller), trademark_payload(deal_types=list(deal_types), trademark={
        "registration_number": number, "mark_text": text, "similar_groups": groups, "nice_classes": classes}))
    assert res.status_code == 201, res.json
    return res


def test_similar_marks_in_shared_groups_block_an_assignment_until_bundled(client, seller, api, as_user):
    same = _trademark(client, api, seller, "22345678", "星河", ["0901"], [9])
    near = _trademark(client, api, seller, "32345678", "星河云", ["4220"], [42])
    apart = _trademark(client, api, seller, "42345678", "星河", ["3501"], [35])
    unlike = _trademark(client, api, seller, "52345678", "白云", ["0901"], [9])
    res = create(client, api(seller), trademark_payload())  # 星河, 0901 and 4220, for assignment
    assert res.status_code == 201, res.json
    listing_id = res.json["listing"]["id"]
    bundle = [w for w in res.json["warnings"] if w["code"] == "trademark_bundle"]
    assert bundle, res.json["warnings"]
    flagged = {r.number for r in Right.query.filter(Right.id.in_(bundle[0]["right_ids"]))}
    assert flagged == {"22345678", "32345678"}
    assert "42345678" not in bundle[0]["message"] and "52345678" not in bundle[0]["message"]
    del same, near, apart, unlike

    res = submit(client, api(seller), listing_id)
    assert res.status_code in (409, 422)
    assert "22345678" in res.json["error"]["fields"]["bundle"]

    as_user(seller)
    res = client.post(f"/listings/{listing_id}/bundle", data={"bundle": [str(i) for i in bundle[0]["right_ids"]]})
    assert res.status_code == 302
    db.session.expire_all()
    listing = db.session.get(Listing, listing_id)
    assert sorted(r.number for r in listing.rights) == ["12345678", "22345678", "32345678"]
    res = submit(client, api(seller), listing_id)
    assert res.status_code == 200, res.json


def test_resaving_a_listing_does_not_redeclare_a_recorded_licence(client, seller, api):
    """The register's licence comes back in the listing's input (``exclusive_license_until``): saving
    it again must not add a declared, nationwide licence beside the recorded one."""
    res = create(client, api(seller), patent_payload(deal_types=["assignment"]))
    listing_id = res.json["listing"]["id"]
    right = factories.find_right("patent", "201710601862.3")
    _exclusive_licence(right, territory="广东省")
    res = client.patch(f"/api/v1/listings/{listing_id}", json={"title": "锂电池正极材料发明专利（改）"},
                       headers=api(seller))
    assert res.status_code == 200, res.json
    db.session.expire_all()
    right = factories.find_right("patent", "201710601862.3")
    assert [(e.source, e.territory) for e in right.licences_in_force()] == [("operator", "广东省")]
