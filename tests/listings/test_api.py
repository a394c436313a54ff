"""The listing routes of docs/api.md: create, show, patch, submit, review, withdraw; permissions and bad input."""
from datetime import timedelta

import pytest

from listings.models import Listing, Right
from marketplace.kernel.extensions import db
from marketplace.kernel.models import Notification
from marketplace.kernel.timeutil import iso, parse_iso, utcnow
from tests import factories
from tests.probes import nothing_changes

from .conftest import patent_payload, trademark_payload


def create(client, headers, body):
    return client.post("/api/v1/listings", json=body, headers=headers)


def test_seller_creates_a_patent_draft(client, seller, api):
    res = create(client, api(seller), patent_payload(patent={"application_number": "ZL 2017 1 0601862.3"}))
    assert res.status_code == 201, res.json
    listing = res.json["listing"]
    assert listing["status"] == "draft"
    assert listing["kind"] == "patent" and listing["price"] == 500_000_00 and listing["currency"] == "CNY"
    assert listing["price_mode"] == "fixed" and listing["deal_types"] == ["assignment", "non_exclusive_license"]
    assert listing["grade"] is None and listing["grade_score"] is None
    assert listing["region"] == seller.organization.region
    assert listing["seller"] == {"type": "organization", "name": seller.organization.name,
                                 "organization": seller.organization.name, "verified": True}
    right = listing["rights"][0]
    assert right["application_number"] == "201710601862.3"
    assert right["patent_type"] == "invention"
    assert right["ipc_codes"] == ["H01M 4/36", "H01M 4/525"]
    assert right["expires_on"] == "2037-07-21"
    assert "auction" not in listing
    assert res.json["warnings"] == []


def test_seller_creates_a_trademark_in_two_classes(client, seller, api):
    res = create(client, api(seller), trademark_payload())
    assert res.status_code == 201, res.json
    right = res.json["listing"]["rights"][0]
    assert right["nice_classes"] == [9, 42] and right["similar_groups"] == ["0901", "4220"]
    assert right["registration_number"] == "12345678" and right["expires_on"] == "2028-05-07"
    assert res.json["listing"]["price"] is None


def test_auction_terms_are_stored_and_reserve_never_shown(client, seller, api):
    ends = utcnow() + timedelta(days=3)
    body = patent_payload(price_mode="auction", price=None,
                          auction={"start_price": 100_000_00, "reserve_price": 300_000_00,
                                   "min_increment": 5_000_00, "ends_at": iso(ends)})
    res = create(client, api(seller), body)
    assert res.status_code == 201, res.json
    auction = res.json["listing"]["auction"]
    assert parse_iso(auction.pop("ends_at")) == ends
    assert auction == {"start_price": 100_000_00, "min_increment": 5_000_00, "current_price": None,
                       "reserve_met": False, "bid_count": 0, "closed": False,
                       "deposit_amount": None, "deposit_forfeit": None}  # no deposit asked (docs/trading.md)
    assert "reserve_price" not in str(res.json) and "30000000" not in str(res.json)
    row = db.session.get(Listing, res.json["listing"]["id"])
    assert row.auction.reserve_price == 300_000_00 and row.price is None


def test_buyer_cannot_create_listings(client, buyer, api):
    res = create(client, api(buyer), patent_payload())
    assert res.status_code == 403
    assert db.session.query(Listing).count() == 0


def test_anonymous_cannot_create(client):
    with nothing_changes():
        res = create(client, {}, patent_payload())
    assert res.status_code == 401 and res.json["error"]["code"] == "unauthenticated"


def test_restricted_credit_cannot_list(client, make_user, api):
    user = make_user("seller", credit_level="restricted")
    db.session.commit()
    res = create(client, api(user), patent_payload())
    assert res.status_code == 403
    assert res.json["error"]["credit_level"] == "restricted"


@pytest.mark.parametrize("override, field, reason", [
    ({"patent": {"application_number": "201710601862.4"}}, "rights[0].patent.application_number", "应为 3"),
    ({"patent": {"application_number": "2017106"}}, "rights[0].patent.application_number", "格式"),
    ({"patent": {"patent_type": "utility_model"}}, "rights[0].patent.patent_type", "发明"),
    ({"patent": {"ipc_codes": ["H04Z 9/32"]}}, "rights[0].patent.ipc_codes[0]", "不存在"),
    ({"patent": {"filing_date": "2017-13-01"}}, "rights[0].patent.filing_date", "YYYY-MM-DD"),
    ({"patent": {"filing_date": "2016-07-21"}}, "rights[0].patent.filing_date", "年份"),
    ({"patent": {"grant_date": "2016-01-01"}}, "rights[0].patent.grant_date", "早于申请日"),
    ({"patent": {"legal_status": "lapsed"}}, "rights[0].patent.legal_status", "不能挂牌"),
    ({"patent": {"application_number": "200510012345.X", "filing_date": "2005-03-01"}},
     "rights[0].patent.filing_date", "届满"),
    ({"price": None}, "price", "一口价"),
    ({"price": -5}, "price", "不能小于"),
    ({"deal_types": ["rent"]}, "deal_types", "只能是"),
    ({"price_mode": "auction"}, "auction", "start_price"),
    ({"region": "atlantis"}, "region", "未知地区"),
    ({"title": ""}, "title", "必填"),
    ({"rights": []}, "rights", "至少"),
])
def test_bad_patent_input_names_the_field_and_stores_nothing(client, seller, api, override, field, reason):
    res = create(client, api(seller), patent_payload(**override))
    assert res.status_code == 422, res.json
    assert reason in res.json["error"]["fields"][field], res.json
    assert db.session.query(Listing).count() == 0 and db.session.query(Right).count() == 0


@pytest.mark.parametrize("override, field, reason", [
    ({"trademark": {"similar_groups": ["3501"]}}, "rights[0].trademark.similar_groups[0]", "属于第35类"),
    ({"trademark": {"similar_groups": ["0999"]}}, "rights[0].trademark.similar_groups[0]", "不存在"),
    ({"trademark": {"nice_classes": [46]}}, "rights[0].trademark.nice_classes[0]", "第46类"),
    ({"trademark": {"nice_classes": []}}, "rights[0].trademark.nice_classes", "至少"),
    ({"trademark": {"registration_number": "TM-12"}}, "rights[0].trademark.registration_number", "数字"),
    ({"trademark": {"registration_date": "2010-01-01"}}, "rights[0].trademark.registration_date", "届满"),
    ({"trademark": {"status": "cancelled"}}, "rights[0].trademark.status", "不能挂牌"),
    ({"rights": [{"patent": {"application_number": "201710601862.3"}}]}, "rights[0]", "商标挂牌只能包含商标"),
])
def test_bad_trademark_input(client, seller, api, override, field, reason):
    res = create(client, api(seller), trademark_payload(**override))
    assert res.status_code == 422, res.json
    assert reason in res.json["error"]["fields"][field], res.json
    assert db.session.query(Listing).count() == 0


def test_several_errors_are_reported_at_once(client, seller, api):
    body = patent_payload(price=None, patent={"application_number": "201710601862.9", "ipc_codes": ["XYZ"]})
    fields = create(client, api(seller), body).json["error"]["fields"]
    assert {"price", "rights[0].patent.application_number", "rights[0].patent.ipc_codes[0]"} <= set(fields)


def test_duplicate_rights_in_one_listing(client, seller, api):
    body = patent_payload()
    body["rights"].append(body["rights"][0])
    res = create(client, api(seller), body)
    assert "重复" in res.json["error"]["fields"]["rights[1].patent.application_number"]


def test_portfolio_with_design_and_utility_model(client, seller, api):
    body = patent_payload()
    body["rights"] += [
        {"patent": {"application_number": "202230012345.4", "title": "智能手表", "locarno_class": "10-02",
                    "filing_date": "2022-03-01", "grant_date": "2022-08-01", "legal_status": "granted"}},
        {"patent": {"application_number": "202020123456.8", "title": "一种电池固定支架", "ipc_codes": ["H01M 50/20"],
                    "filing_date": "2020-03-05", "legal_status": "granted"}},
    ]
    res = create(client, api(seller), body)
    assert res.status_code == 201, res.json
    rights = res.json["listing"]["rights"]
    assert [r["patent_type"] for r in rights] == ["invention", "design", "utility_model"]
    assert rights[1]["expires_on"] == "2037-03-01"  # design filed after 2021-06-01: 15 years
    assert rights[2]["expires_on"] == "2030-03-05"  # utility model: 10 years
    body["rights"][2]["patent"].update(application_number="201320123456.8", filing_date="2013-03-05")
    res = create(client, api(seller), body)
    assert res.status_code == 422 and "届满" in res.json["error"]["fields"]["rights[2].patent.filing_date"]


def test_exclusive_licence_in_force_blocks_another(client, seller, api):
    until = (utcnow() + timedelta(days=400)).date().isoformat()
    body = patent_payload(deal_types=["exclusive_license"], patent={"exclusive_license_until": until})
    res = create(client, api(seller), body)
    assert res.status_code == 409  # the rule book: the register already records an exclusive licence
    assert "独占许可在有效期内" in res.json["error"]["fields"]["deal_types"]
    assert body["rights"][0]["patent"]["application_number"] in res.json["error"]["fields"]["deal_types"]
    past = (utcnow() - timedelta(days=1)).date().isoformat()
    body = patent_payload(deal_types=["exclusive_license"], patent={"exclusive_license_until": past})
    assert create(client, api(seller), body).status_code == 201


def test_pledged_patent_for_assignment_needs_consent(client, seller, api):
    h = api(seller)
    res = create(client, h, patent_payload(patent={"pledged": True}))
    assert res.status_code == 201
    assert [w["code"] for w in res.json["warnings"]] == ["pledge_consent"]
    listing_id = res.json["listing"]["id"]
    res = client.post(f"/api/v1/listings/{listing_id}/submit", headers=h)
    assert res.status_code == 422 and "质权人同意书" in res.json["error"]["fields"]["pledge_consent"]
    import io
    pdf = (io.BytesIO(b"%PDF-1.4 consent of the pledgee"), "consent.pdf")
    res = client.post(f"/api/v1/listings/{listing_id}/pledge-consent", data={"document": pdf}, headers=h,
                      content_type="multipart/form-data")
    assert res.status_code == 200, res.json
    assert res.json["warnings"] == [] and res.json["listing"]["pledge_consent_uploaded"] is True
    assert client.post(f"/api/v1/listings/{listing_id}/submit", headers=h).status_code == 200
    # licensing a pledged patent needs the pledgee's consent too (担保法/民法典第444条)
    res = create(client, h, patent_payload(deal_types=["non_exclusive_license"],
                                           patent={"pledged": True, "application_number": "202210100008.X",
                                                   "filing_date": "2022-01-05", "grant_date": None}))
    assert res.status_code == 201 and [w["code"] for w in res.json["warnings"]] == ["pledge_consent"]


def test_similar_marks_of_the_same_org_are_named_and_can_be_bundled(client, seller, api):
    h = api(seller)
    first = create(client, h, trademark_payload()).json["listing"]["id"]
    other = create(client, h, trademark_payload(trademark={"registration_number": "22345678", "mark_text": "星河云",
                                                           "nice_classes": [9], "similar_groups": ["0901"]})).json
    assert [w["code"] for w in other["warnings"]] == ["trademark_bundle"]
    warning = other["warnings"][0]
    first_right = db.session.get(Listing, first).rights[0]
    assert warning["right_ids"] == [first_right.id] and "12345678" in warning["message"]
    # another organisation's identical mark is not ours to bundle
    stranger = factories.make_user("seller")
    db.session.commit()
    res = create(client, api(stranger), trademark_payload(trademark={"registration_number": "32345678"}))
    assert res.json["warnings"] == []
    from listings import service
    listing, warnings = service.bundle_similar_marks(seller, other["listing"]["id"], [first_right.id])
    db.session.commit()
    assert sorted(r.number for r in listing.rights) == ["12345678", "22345678"] and warnings == []
    assert db.session.get(Listing, first).status == "withdrawn"


def test_get_visibility(client, seller, buyer, operator, api):
    draft = factories.make_listing(seller, status="draft")
    published = factories.make_listing(seller, status="published")
    db.session.commit()

    def sees(listing, headers=None):
        res = client.get(f"/api/v1/listings/{listing}", headers=headers or {})
        if res.status_code == 404:
            assert res.json["error"]["code"] == "not_found" and "listing" not in res.json
            return False
        assert res.status_code == 200 and res.json["listing"]["id"] == listing
        return True

    assert sees(published.id)
    assert not sees(draft.id) and not sees(draft.id, api(buyer))
    other_seller = factories.make_user("seller")
    db.session.commit()
    assert not sees(draft.id, api(other_seller))
    assert sees(draft.id, api(seller))
    colleague = factories.make_user("seller", org=seller.organization)
    db.session.commit()
    assert sees(draft.id, api(colleague)) and sees(draft.id, api(operator))
    assert not sees(999999)


def test_patch_only_while_draft_or_rejected(client, seller, api):
    h = api(seller)
    listing_id = create(client, h, patent_payload()).json["listing"]["id"]
    res = client.patch(f"/api/v1/listings/{listing_id}", json={"price": 480_000_00, "title": "新标题"}, headers=h)
    assert res.status_code == 200, res.json
    assert res.json["listing"]["price"] == 480_000_00 and res.json["listing"]["title"] == "新标题"
    assert res.json["listing"]["rights"][0]["application_number"] == "201710601862.3"
    res = client.patch(f"/api/v1/listings/{listing_id}", json={"price": 0}, headers=h)
    assert res.status_code == 422 and db.session.get(Listing, listing_id).price == 480_000_00
    res = client.patch(f"/api/v1/listings/{listing_id}", json={"status": "published"}, headers=h)
    assert res.status_code == 422 and "status" in res.json["error"]["fields"]
    client.post(f"/api/v1/listings/{listing_id}/submit", headers=h)
    res = client.patch(f"/api/v1/listings/{listing_id}", json={"price": 1}, headers=h)
    assert res.status_code == 409


def test_other_org_cannot_patch_or_submit(client, seller, api):
    draft = factories.make_listing(seller, status="draft")
    published = factories.make_listing(seller, status="published")
    other = factories.make_user("seller")
    db.session.commit()
    h = api(other)
    assert client.patch(f"/api/v1/listings/{draft.id}", json={"price": 1}, headers=h).status_code == 404
    assert client.post(f"/api/v1/listings/{draft.id}/submit", headers=h).status_code == 404
    assert client.post(f"/api/v1/listings/{published.id}/withdraw", headers=h).status_code == 403


def _review(client, headers, listing_id, decision, reason=None):
    return client.post(f"/api/v1/listings/{listing_id}/review", json={"decision": decision, "reason": reason},
                       headers=headers)


def test_full_lifecycle_reject_fix_resubmit_approve(client, seller, operator, api):
    hs, ho = api(seller), api(operator)
    listing_id = create(client, hs, patent_payload()).json["listing"]["id"]
    assert _review(client, ho, listing_id, "approve").status_code == 409  # still a draft
    res = client.post(f"/api/v1/listings/{listing_id}/submit", headers=hs)
    assert res.status_code == 200 and res.json["listing"]["status"] == "pending_review"
    assert client.post(f"/api/v1/listings/{listing_id}/submit", headers=hs).status_code == 409
    assert _review(client, hs, listing_id, "approve").status_code == 403  # sellers do not review
    res = _review(client, ho, listing_id, "reject")
    assert res.status_code == 422 and "reason" in res.json["error"]["fields"]
    res = _review(client, ho, listing_id, "reject", "请补充权利要求书和授权公告文本")
    assert res.status_code == 200 and res.json["listing"]["status"] == "rejected"
    assert res.json["listing"]["rejection_reason"] == "请补充权利要求书和授权公告文本"
    seller_view = client.get(f"/api/v1/listings/{listing_id}", headers=hs).json["listing"]
    assert seller_view["rejection_reason"] == "请补充权利要求书和授权公告文本"
    assert "rejection_reason" not in client.get(f"/api/v1/listings/{listing_id}").json.get("listing", {})
    assert db.session.query(Notification).filter_by(user_id=seller.id).count() == 1
    assert client.patch(f"/api/v1/listings/{listing_id}", json={"description": "已补充"}, headers=hs).status_code == 200
    assert client.post(f"/api/v1/listings/{listing_id}/submit", headers=hs).status_code == 200
    res = _review(client, ho, listing_id, "approve")
    assert res.status_code == 200 and res.json["listing"]["status"] == "published"
    assert res.json["listing"]["published_at"] is not None
    assert client.get(f"/api/v1/listings/{listing_id}").status_code == 200
    assert _review(client, ho, listing_id, "reject", "again").status_code == 409
    res = client.post(f"/api/v1/listings/{listing_id}/withdraw", headers=hs)
    assert res.status_code == 200 and res.json["listing"]["status"] == "withdrawn"
    assert client.get(f"/api/v1/listings/{listing_id}").status_code == 404
    assert client.post(f"/api/v1/listings/{listing_id}/withdraw", headers=hs).status_code == 409


@pytest.mark.parametrize("status, can_withdraw", [
    ("draft", True), ("pending_review", True), ("published", True), ("rejected", True),
    ("reserved", False), ("sold", False), ("withdrawn", False), ("expired", False),
])
def test_withdraw_from_each_state(client, seller, api, status, can_withdraw):
    listing = factories.make_listing(seller, status=status)
    headers = api(seller)
    _act_or_refuse(client, f"/api/v1/listings/{listing.id}/withdraw", headers, listing, can_withdraw, "withdrawn")


@pytest.mark.parametrize("status, can_submit", [
    ("draft", True), ("rejected", True), ("pending_review", False), ("published", False), ("reserved", False),
    ("sold", False), ("withdrawn", False), ("expired", False),
])
def test_submit_from_each_state(client, seller, api, status, can_submit):
    listing = factories.make_listing(seller, status=status)
    headers = api(seller)
    _act_or_refuse(client, f"/api/v1/listings/{listing.id}/submit", headers, listing, can_submit, "pending_review")


def _act_or_refuse(client, url, headers, listing, allowed, new_status):
    """The act moves the listing to ``new_status`` (the answer shows it); a refusal (409) changes nothing."""
    if allowed:
        res = client.post(url, headers=headers)
        assert res.status_code == 200 and res.json["listing"]["status"] == new_status, res.json
        db.session.expire_all()
        assert db.session.get(Listing, listing.id).status == new_status
    else:
        with nothing_changes():
            res = client.post(url, headers=headers)
        assert res.status_code == 409 and res.json["error"]["code"] in ("conflict", "illegal_transition"), res.json


def test_auction_with_bids_cannot_be_withdrawn(client, seller, api):
    listing = factories.make_listing(seller, status="published", price_mode="auction")
    listing.auction.bid_count = 2
    listing.auction.current_price = 120_000_00
    headers = api(seller)
    with nothing_changes():  # the auction and its bids stay
        res = client.post(f"/api/v1/listings/{listing.id}/withdraw", headers=headers)
    assert res.status_code == 409, res.json


def test_approve_refuses_an_auction_that_already_ended(client, seller, operator, api):
    listing = factories.make_listing(seller, status="pending_review", price_mode="auction",
                                     auction={"ends_at": utcnow() - timedelta(hours=1)})
    db.session.commit()
    res = _review(client, api(operator), listing.id, "approve")
    assert res.status_code == 409 and "auction.ends_at" in res.json["error"]["fields"]


def test_expire_due_listings(app, seller):
    from listings import service
    old = factories.make_listing(seller, status="published")
    old.rights[0].filing_date = old.rights[0].filing_date.replace(year=2004)
    live = factories.make_listing(seller, status="published")
    db.session.commit()
    assert service.expire_due_listings() == [old.id]
    assert old.status == "expired" and live.status == "published"
    assert service.expire_due_listings() == []


def test_the_deadlines_run_takes_listings_whose_term_ended_off_the_market(app, seller, runner):
    old = factories.make_listing(seller, status="published")
    old.rights[0].filing_date = old.rights[0].filing_date.replace(year=2004)
    live = factories.make_listing(seller, status="published")
    db.session.commit()
    result = runner.invoke(args=["deadlines", "run"])
    assert result.exit_code == 0 and "listings_expired: 1" in result.output
    db.session.expire_all()
    assert old.status == "expired" and live.status == "published"


def test_my_listings_api(client, seller, api):
    factories.make_listing(seller, status="draft")
    factories.make_listing(seller, status="published")
    factories.make_listing(factories.make_user("seller"), status="published")
    db.session.commit()
    res = client.get("/api/v1/my/listings", headers=api(seller))
    assert res.status_code == 200 and len(res.json["listings"]) == 2
    assert len(client.get("/api/v1/my/listings?status=draft", headers=api(seller)).json["listings"]) == 1


@pytest.mark.parametrize("body", [
    {"kind": ["patent"], "title": {"x": 1}, "deal_types": {"a": 1}, "price_mode": ["fixed"], "rights": "x"},
    {"kind": "patent", "title": "t\x00", "deal_types": [["assignment"]], "price_mode": "fixed", "price": "1e3",
     "region": ["guangzhou"], "rights": [{"patent": {"application_number": ["x"], "patent_type": ["invention"],
                                                     "legal_status": {"a": 1}, "ipc_codes": {"a": 1},
                                                     "filing_date": 20170721, "pledged": [1]}}]},
    {"kind": "trademark", "title": "t", "deal_types": ["assignment"], "price_mode": "auction",
     "auction": {"start_price": True, "min_increment": 1.5, "ends_at": ["x"]},
     "rights": [{"trademark": {"registration_number": 12, "mark_text": "\x00", "nice_classes": "abc",
                               "similar_groups": [None], "goods": [{"a": 1}, "\x00x"], "status": ["registered"]}}]},
    {"kind": "patent", "title": "t", "deal_types": ["assignment"], "price_mode": "fixed", "price": 10**20,
     "rights": [None, 1, {"kind": "patent"}]},
])
def test_malformed_bodies_get_422_never_500(client, seller, api, body):
    res = create(client, api(seller), body)
    assert res.status_code == 422, res.json
    assert res.json["error"]["fields"]
    assert db.session.query(Listing).count() == 0


def test_review_with_malformed_values(client, seller, operator, api):
    listing = factories.make_listing(seller, status="pending_review")
    headers = api(operator)
    for body, field in (({"decision": ["approve"]}, "decision"), ({"decision": "reject", "reason": {"a": 1}}, "reason"),
                        ({"decision": "reject", "reason": "bad\x00"}, "reason")):
        with nothing_changes():  # still pending review
            res = client.post(f"/api/v1/listings/{listing.id}/review", json=body, headers=headers)
        assert res.status_code == 422 and field in res.json["error"]["fields"], res.json


def test_openapi_documents_every_listing_route(client):
    doc = client.get("/api/v1/openapi.json").json
    for path, methods in [("/api/v1/listings", ["post"]), ("/api/v1/listings/{listing_id}", ["get", "patch"]),
                          ("/api/v1/listings/{listing_id}/submit", ["post"]),
                          ("/api/v1/listings/{listing_id}/review", ["post"]),
                          ("/api/v1/listings/{listing_id}/withdraw", ["post"]),
                          ("/api/v1/listings/{listing_id}/pledge-consent", ["post"]),
                          ("/api/v1/listings/{listing_id}/image", ["post"]), ("/api/v1/my/listings", ["get"])]:
        for method in methods:
            op = doc["paths"][path][method]
            assert "x-undocumented" not in op, (path, method)
    listing = doc["paths"]["/api/v1/listings/{listing_id}"]["get"]["responses"]["200"]["content"]
    schema = listing["application/json"]["schema"]["properties"]["listing"]
    assert {"status", "price", "currency", "price_mode", "deal_types", "grade", "grade_score", "region", "rights",
            "seller"} <= set(schema["required"])
    assert "reserve_price" not in str(schema)
