"""The register's operator pages and API: corrections, holders, pledges and licences, the conflicts queue,
and sellers' ownership claims. Each act is allowed for its actor and refused (nothing changes) for anyone
else, or without a reason."""
import io
from datetime import date

import pytest

from listings.models import Encumbrance, Listing, Right, RightClaim, RightEvent
from marketplace.kernel.extensions import db
from marketplace.kernel.models import AuditLog
from tests import factories
from tests.operator.conftest import PDF
from tests.probes import nothing_changes

SAMPLE_ID = "440101199001011234"


def _fresh(model, id_):
    db.session.expire_all()
    return db.session.get(model, id_)


def _snapshot(right_id):
    """Everything an act could change: the entry, its holders and encumbrances, history, audit, claims."""
    db.session.expire_all()
    right = db.session.get(Right, right_id)
    return (right.title, right.legal_status, right.annuity_paid_until, right.verified_at,
            [h.as_party() for h in right.holders],
            [(e.id, e.kind, e.ended_at) for e in right.encumbrances],
            db.session.query(RightEvent).filter_by(right_id=right_id).count(),
            db.session.query(AuditLog).count(),
            [(c.id, c.status) for c in db.session.query(RightClaim).filter_by(right_id=right_id)])


@pytest.fixture
def listing(seller):
    listing = factories.make_listing(seller)
    db.session.commit()
    return listing


@pytest.fixture
def right(listing):
    return listing.rights[0]


def _path(right, suffix=""):
    return f"/operator/rights/{right.kind}/{right.number}{suffix}"


def _claim(right, user, note="我方已于2024年受让该专利"):
    from listings import register
    from tests.operator.conftest import file_storage

    claim = register.file_claim(user, right, file_storage(), note)
    db.session.commit()
    return claim


# --- the right's page ------------------------------------------------------------------------------

def test_operator_sees_the_correction_panel_and_others_do_not(client, as_user, operator, seller, right):
    path = f"/rights/patent/{right.number}"
    assert "运营：更正登记簿" not in client.get(path).get_data(as_text=True)
    as_user(seller)
    page = client.get(path).get_data(as_text=True)
    assert "运营：更正登记簿" not in page and "提出权属异议" not in page  # the holder claims nothing
    as_user(operator)
    page = client.get(path).get_data(as_text=True)
    assert "运营：更正登记簿" in page and _path(right, "/correct") in page


def test_console_links_to_the_register_pages(client, as_user, operator):
    as_user(operator)
    page = client.get("/operator/").get_data(as_text=True)
    assert "/operator/rights/claims" in page and "权利登记" in page


# --- corrections ---------------------------------------------------------------------------------------

def test_operator_corrects_status_and_annuity_with_a_reason(client, as_user, operator, right):
    as_user(operator)
    res = client.post(_path(right, "/correct"), data={
        "correct-title": right.title, "correct-legal_status": "lapsed", "correct-annuity_paid_until": "2024-07-21",
        "correct-reason": "国家知识产权局公告：未缴年费终止"})
    assert res.status_code == 302, res.get_data(as_text=True)[:500]
    right = _fresh(Right, right.id)
    assert right.legal_status == "lapsed" and right.annuity_paid_until == date(2024, 7, 21)
    assert right.verified_at is not None
    event = right.events[-1]
    assert event.action == "corrected" and event.detail["reason"].startswith("国家知识产权局")
    assert set(event.detail) == {"legal_status", "annuity_paid_until", "reason"}  # only what changed
    assert db.session.query(AuditLog).filter_by(action="right.correct", object_id=right.id).count() == 1
    assert "运营更正" in client.get(f"/rights/patent/{right.number}").get_data(as_text=True)


@pytest.mark.parametrize("reason", ["", "  ", "x"])
def test_correction_without_a_reason_is_refused_and_nothing_changes(client, as_user, operator, right, reason):
    before = _snapshot(right.id)
    as_user(operator)
    res = client.post(_path(right, "/correct"), data={"correct-legal_status": "lapsed", "correct-reason": reason})
    assert res.status_code == 422
    assert "请写明理由" in res.get_data(as_text=True)
    assert _snapshot(right.id) == before


def test_correction_refused_to_sellers_and_buyers(client, as_user, seller, buyer, right):
    before = _snapshot(right.id)
    for user in (seller, buyer):
        as_user(user)
        res = client.post(_path(right, "/correct"), data={"correct-legal_status": "lapsed",
                                                          "correct-reason": "我说失效了"})
        assert res.status_code == 403
    client.post("/logout")
    assert _snapshot(right.id) == before


def test_correction_with_a_bad_date_names_the_field(client, as_user, operator, right):
    before = _snapshot(right.id)
    as_user(operator)
    res = client.post(_path(right, "/correct"), data={"correct-annuity_paid_until": "明年",
                                                      "correct-reason": "核对年费缴纳记录"})
    assert res.status_code == 422 and "YYYY-MM-DD" in res.get_data(as_text=True)
    assert _snapshot(right.id) == before


# --- holders -------------------------------------------------------------------------------------------

def test_operator_replaces_holders_with_an_organisation_and_a_masked_person(client, as_user, operator, right):
    other = factories.make_org(name="星河材料有限公司")
    db.session.commit()
    as_user(operator)
    res = client.post(_path(right, "/holders"), data={
        "holders-0-type": "organization", "holders-0-uscc": other.uscc,
        "holders-1-type": "person", "holders-1-name": "张三", "holders-1-id_type": "resident_id",
        "holders-1-id_number": SAMPLE_ID,
        "holders-2-type": "outside", "holders-2-name": "某大学",
        "holders-reason": "依国家知识产权局著录项目变更通知书"})
    assert res.status_code == 302, res.get_data(as_text=True)[:800]
    right = _fresh(Right, right.id)
    assert [h.holder_type for h in right.holders] == ["organization", "person", "outside"]
    assert right.holders[0].organization_id == other.id and right.holders[0].name == other.name
    person = right.holders[1]
    assert person.id_number_masked == "4401**********1234"
    # The full number is stored nowhere: not in the holders, the history, or the audit log.
    for row in db.session.query(AuditLog).all():
        assert SAMPLE_ID not in str(row.before) + str(row.after)
    for event in right.events:
        assert SAMPLE_ID not in str(event.detail)
    page = client.get(f"/rights/patent/{right.number}").get_data(as_text=True)
    assert SAMPLE_ID not in page and "4401**********1234" in page


def test_holders_keep_a_registered_persons_masked_number(client, as_user, operator, right):
    from listings import register

    register.correct_holders(operator, right, [{"type": "person", "name": "李四", "id_type": "passport",
                                                "id_number_masked": "E123*5678"}], "初始登记")
    db.session.commit()
    as_user(operator)
    res = client.post(_path(right, "/holders"), data={
        "holders-0-type": "person", "holders-0-name": "李四（更名）", "holders-0-id_type": "passport",
        "holders-0-id_number": "", "holders-0-id_number_masked": "E123*5678", "holders-reason": "姓名更正"})
    assert res.status_code == 302
    assert _fresh(Right, right.id).holders[0].id_number_masked == "E123*5678"


def test_unknown_organisation_or_no_reason_refused_and_nothing_changes(client, as_user, operator, right):
    before = _snapshot(right.id)
    as_user(operator)
    res = client.post(_path(right, "/holders"), data={"holders-0-type": "organization",
                                                      "holders-0-name": "不存在的公司", "holders-reason": "更正"})
    assert res.status_code == 422 and "平台上没有这个单位" in res.get_data(as_text=True)
    res = client.post(_path(right, "/holders"), data={"holders-0-type": "outside", "holders-0-name": "某大学",
                                                      "holders-reason": ""})
    assert res.status_code == 422
    res = client.post(_path(right, "/holders"), data={
        "holders-0-type": "person", "holders-0-name": "张三", "holders-0-id_type": "resident_id",
        "holders-0-id_number": "12345", "holders-reason": "依变更通知书"})
    assert res.status_code == 422 and "12345" not in res.get_data(as_text=True).split("holders-0-id_number")[1][:200]
    assert _snapshot(right.id) == before


def test_holders_refused_to_a_seller(client, as_user, seller, right):
    before = _snapshot(right.id)
    as_user(seller)
    res = client.post(_path(right, "/holders"), data={"holders-0-type": "outside", "holders-0-name": "我",
                                                      "holders-reason": "我说的"})
    assert res.status_code == 403
    assert _snapshot(right.id) == before


# --- pledges and licences --------------------------------------------------------------------------------

def test_operator_enters_a_pledge_and_a_licence_then_ends_the_pledge(client, as_user, operator, right):
    as_user(operator)
    res = client.post(_path(right, "/encumbrances"), data={
        "encumbrance-kind": "pledge", "encumbrance-party_name": "招商银行深圳分行",
        "encumbrance-registration_number": "Y2024440000123", "encumbrance-starts_on": "2024-01-10",
        "encumbrance-ends_on": "2027-01-09", "encumbrance-reason": "依专利权质押登记通知书"})
    assert res.status_code == 302, res.get_data(as_text=True)[:800]
    res = client.post(_path(right, "/encumbrances"), data={
        "encumbrance-kind": "licence", "encumbrance-party_name": "华南电池有限公司",
        "encumbrance-licence_type": "exclusive", "encumbrance-territory": "广东省", "encumbrance-field": "动力电池",
        "encumbrance-starts_on": "2024-03-01", "encumbrance-ends_on": "2029-02-28",
        "encumbrance-registration_number": "2024440000456", "encumbrance-reason": "依许可合同备案通知书"})
    assert res.status_code == 302
    right = _fresh(Right, right.id)
    assert right.pledged and right.exclusive_license_until == date(2029, 2, 28)
    pledge = next(e for e in right.encumbrances if e.kind == "pledge")
    assert pledge.source == "operator" and pledge.registration_number == "Y2024440000123"
    page = client.get(f"/rights/patent/{right.number}").get_data(as_text=True)
    assert "已质押" in page and "广东省" in page

    before = _snapshot(right.id)
    res = client.post(_path(right, f"/encumbrances/{pledge.id}/end"), data={"end-reason": ""})
    assert res.status_code == 422
    assert _snapshot(right.id) == before
    res = client.post(_path(right, f"/encumbrances/{pledge.id}/end"), data={"end-reason": "质押注销登记"})
    assert res.status_code == 302
    right = _fresh(Right, right.id)
    assert not right.pledged and right.events[-1].action == "pledge_ended"
    assert db.session.query(AuditLog).filter_by(action="right.pledge_end").count() == 1


def test_encumbrance_input_is_checked_and_nothing_is_entered(client, as_user, operator, right):
    before = _snapshot(right.id)
    as_user(operator)
    res = client.post(_path(right, "/encumbrances"), data={
        "encumbrance-kind": "licence", "encumbrance-party_name": "华南电池有限公司", "encumbrance-licence_type": "",
        "encumbrance-starts_on": "2025-01-01", "encumbrance-ends_on": "2024-01-01",
        "encumbrance-reason": "依许可合同备案通知书"})
    assert res.status_code == 422
    page = res.get_data(as_text=True)
    assert "请选择许可类型" in page and "不能早于开始日期" in page
    assert _snapshot(right.id) == before


def test_encumbrances_refused_to_a_seller(client, as_user, seller, right):
    enc = Encumbrance(kind="pledge", party_name="银行", source="operator")
    right.encumbrances.append(enc)
    db.session.commit()
    before = _snapshot(right.id)
    as_user(seller)
    assert client.post(_path(right, "/encumbrances"), data={
        "encumbrance-kind": "pledge", "encumbrance-party_name": "我", "encumbrance-reason": "我说的"}).status_code == 403
    assert client.post(_path(right, f"/encumbrances/{enc.id}/end"),
                       data={"end-reason": "我还清了"}).status_code == 403
    assert _snapshot(right.id) == before


# --- claims: sellers file, operators decide ------------------------------------------------------------------

def test_a_seller_of_another_organisation_files_a_claim_with_evidence(client, as_user, other_seller, right, operator):
    path = f"/rights/patent/{right.number}"
    as_user(other_seller)
    assert "提出权属异议" in client.get(path).get_data(as_text=True)
    res = client.post(f"/rights/patent/{right.number}/claims",
                      data={"claim-evidence": (io.BytesIO(PDF), "证书.pdf"), "claim-note": "已受让"},
                      content_type="multipart/form-data")
    assert res.status_code == 302, res.get_data(as_text=True)[:800]
    claim = db.session.query(RightClaim).one()
    assert claim.organization_id == other_seller.organization_id and claim.status == "open"
    assert "正在处理中" in client.get(path).get_data(as_text=True)
    # a second claim while the first is open is refused
    res = client.post(f"/rights/patent/{right.number}/claims",
                      data={"claim-evidence": (io.BytesIO(PDF), "证书.pdf")}, content_type="multipart/form-data")
    assert res.status_code == 302 and db.session.query(RightClaim).count() == 1


def test_claim_without_evidence_or_not_a_pdf_is_refused(client, as_user, other_seller, right):
    before = _snapshot(right.id)
    as_user(other_seller)
    res = client.post(f"/rights/patent/{right.number}/claims", data={"claim-note": "没有证据"})
    assert res.status_code == 422 and "请上传权属证明" in res.get_data(as_text=True)
    res = client.post(f"/rights/patent/{right.number}/claims",
                      data={"claim-evidence": (io.BytesIO(b"<html>x</html>"), "x.pdf")},
                      content_type="multipart/form-data")
    assert res.status_code == 422 and "只接受" in res.get_data(as_text=True)
    assert _snapshot(right.id) == before


def test_holder_buyer_and_anonymous_cannot_claim(client, as_user, seller, buyer, right):
    before = _snapshot(right.id)
    data = lambda: {"claim-evidence": (io.BytesIO(PDF), "证书.pdf")}  # noqa: E731
    res = client.post(f"/rights/patent/{right.number}/claims", data=data(), content_type="multipart/form-data")
    assert res.status_code == 302 and "/login" in res.headers["Location"]
    as_user(buyer)
    assert client.post(f"/rights/patent/{right.number}/claims", data=data(),
                       content_type="multipart/form-data").status_code == 403
    as_user(seller)  # already the holder
    res = client.post(f"/rights/patent/{right.number}/claims", data=data(), content_type="multipart/form-data")
    assert res.status_code == 302
    assert _snapshot(right.id) == before


def test_queue_lists_the_claim_and_serves_evidence_to_operators_only(client, as_user, operator, seller,
                                                                      other_seller, right):
    claim = _claim(right, other_seller, note="我方已于2024年受让该专利")
    as_user(operator)
    page = client.get("/operator/rights/claims").get_data(as_text=True)
    for text in (right.number, seller.organization.name, other_seller.organization.name, "我方已于2024年受让该专利",
                 f"/operator/rights/claims/{claim.id}/evidence"):
        assert text in page
    res = client.get(f"/operator/rights/claims/{claim.id}/evidence")
    assert res.status_code == 200 and res.data.startswith(b"%PDF")
    assert res.headers["X-Content-Type-Options"] == "nosniff" and "attachment" in res.headers["Content-Disposition"]
    for user in (seller, other_seller):
        as_user(user)
        assert client.get(f"/operator/rights/claims/{claim.id}/evidence").status_code == 403
        assert client.get("/operator/rights/claims").status_code == 403


def test_upholding_makes_the_claimant_the_holder_and_delists_the_old_holders_listings(
        client, as_user, operator, seller, other_seller, listing, right):
    claim = _claim(right, other_seller)
    as_user(operator)
    before = _snapshot(right.id)
    res = client.post(f"/operator/rights/claims/{claim.id}/decision",
                      data={f"decide-{claim.id}-decision": "uphold", f"decide-{claim.id}-reason": ""})
    assert res.status_code == 422 and _snapshot(right.id) == before  # no reason: nothing changes

    res = client.post(f"/operator/rights/claims/{claim.id}/decision",
                      data={f"decide-{claim.id}-decision": "uphold",
                            f"decide-{claim.id}-reason": "转让登记通知书证明异议人已受让"})
    assert res.status_code == 302
    right = _fresh(Right, right.id)
    assert [h.organization_id for h in right.holders] == [other_seller.organization_id]
    assert _fresh(Listing, listing.id).status == "withdrawn"
    assert _fresh(RightClaim, claim.id).status == "upheld"
    assert {"holders_corrected", "claim_upheld"} <= {e.action for e in right.events}

    after = _snapshot(right.id)
    res = client.post(f"/operator/rights/claims/{claim.id}/decision",
                      data={f"decide-{claim.id}-decision": "dismiss", f"decide-{claim.id}-reason": "再议"})
    assert res.status_code == 302  # refused with a message: decided once
    assert _snapshot(right.id) == after


def test_dismissing_leaves_the_register_and_listing_alone(client, as_user, operator, seller, other_seller, listing,
                                                         right):
    claim = _claim(right, other_seller)
    as_user(operator)
    res = client.post(f"/operator/rights/claims/{claim.id}/decision",
                      data={f"decide-{claim.id}-decision": "dismiss", f"decide-{claim.id}-reason": "证据不足"})
    assert res.status_code == 302
    assert _fresh(RightClaim, claim.id).status == "dismissed"
    assert [h.organization_id for h in _fresh(Right, right.id).holders] == [seller.organization_id]
    assert _fresh(Listing, listing.id).status == "published"


def test_a_seller_cannot_decide_a_claim(client, as_user, seller, other_seller, right):
    claim = _claim(right, other_seller)
    before = _snapshot(right.id)
    for user in (seller, other_seller):
        as_user(user)
        res = client.post(f"/operator/rights/claims/{claim.id}/decision",
                          data={f"decide-{claim.id}-decision": "uphold", f"decide-{claim.id}-reason": "我说的"})
        assert res.status_code == 403
    assert _snapshot(right.id) == before


# --- the wizard points at the claim -------------------------------------------------------------------------

def test_wizard_refusal_links_to_the_rights_page(client, as_user, seller):
    from tests.listings.test_pages import _wizard_form

    other = factories.make_user("seller")
    factories.make_listing(other, number="201710601862.3")
    db.session.commit()
    as_user(seller)
    res = client.post("/listings/new?kind=patent", data=_wizard_form())
    assert res.status_code == 409
    assert 'href="/rights/patent/201710601862.3"' in res.get_data(as_text=True)


# --- JSON API ---------------------------------------------------------------------------------------------

def test_api_claim_queue_decision_and_correction(client, operator, seller, other_seller, buyer, listing, right):
    h = factories.auth_header
    url = f"/api/v1/rights/patent/{right.number}/claims"
    res = client.post(url, data={"evidence": (io.BytesIO(PDF), "proof.pdf"), "note": "已受让"},
                      content_type="multipart/form-data", headers=h(buyer))
    assert res.status_code == 403
    res = client.post(url, data={"note": "没有证据"}, content_type="multipart/form-data", headers=h(other_seller))
    assert res.status_code == 422 and "evidence" in res.json["error"]["fields"]
    for form, field in (({"note": "已" * 2001}, "note"), ({"note": "已受让", "holder": "我方"}, "holder")):
        with nothing_changes():
            res = client.post(url, data={**form, "evidence": (io.BytesIO(PDF), "proof.pdf")},
                              content_type="multipart/form-data", headers=h(other_seller))
        assert res.status_code == 422 and field in res.json["error"]["fields"], res.json
    res = client.post(url, data={"evidence": (io.BytesIO(PDF), "proof.pdf"), "note": "已受让"},
                      content_type="multipart/form-data", headers=h(other_seller))
    assert res.status_code == 201, res.json
    claim_id = res.json["claim"]["id"]

    assert client.get("/api/v1/operator/rights/claims", headers=h(seller)).status_code == 403
    res = client.get("/api/v1/operator/rights/claims", headers=h(operator))
    assert res.status_code == 200 and [c["id"] for c in res.json["claims"]] == [claim_id]
    item = res.json["claims"][0]
    assert item["holders"] == [seller.organization.name] and item["claimant"]["name"] == other_seller.organization.name
    assert client.get(item["evidence_url"], headers=h(operator)).data.startswith(b"%PDF")
    assert client.get(item["evidence_url"], headers=h(other_seller)).status_code == 403

    decision = f"/api/v1/operator/rights/claims/{claim_id}/decision"
    assert client.post(decision, json={"decision": "uphold", "reason": "有证据"}, headers=h(seller)).status_code == 403
    assert client.post(decision, json={"decision": "uphold", "reason": ""}, headers=h(operator)).status_code == 422
    assert client.post(decision, json={"decision": "maybe", "reason": "看看"}, headers=h(operator)).status_code == 422
    res = client.post(decision, json={"decision": "uphold", "reason": "转让登记通知书"}, headers=h(operator))
    assert res.status_code == 200 and res.json["claim"]["status"] == "upheld"
    assert client.post(decision, json={"decision": "dismiss", "reason": "再议"}, headers=h(operator)).status_code == 409
    assert _fresh(Listing, listing.id).status == "withdrawn"

    patch = f"/api/v1/operator/rights/patent/{right.number}"
    before = _snapshot(right.id)
    assert client.patch(patch, json={"changes": {"legal_status": "lapsed"}, "reason": "公告"},
                        headers=h(seller)).status_code == 403
    assert client.patch(patch, json={"changes": {"legal_status": "lapsed"}, "reason": ""},
                        headers=h(operator)).status_code == 422
    res = client.patch(patch, json={"changes": {"tm_status": "registered"}, "reason": "公告"}, headers=h(operator))
    assert res.status_code == 422 and "tm_status" in res.json["error"]["fields"]
    res = client.patch(patch, json={"changes": {"legal_status": "gone"}, "reason": "公告"}, headers=h(operator))
    assert res.status_code == 422
    assert _snapshot(right.id) == before
    res = client.patch(patch, json={"changes": {"legal_status": "lapsed", "annuity_paid_until": "2024-07-21"},
                                    "reason": "国家知识产权局公告"}, headers=h(operator))
    assert res.status_code == 200, res.json
    assert res.json["right"]["status"] == "lapsed" and res.json["right"]["verified"] is True
    assert _fresh(Right, right.id).annuity_paid_until == date(2024, 7, 21)
    assert client.patch("/api/v1/operator/rights/patent/201799999999.9", json={"changes": {}, "reason": "x公告"},
                        headers=h(operator)).status_code == 404


def test_held_by_another_names_the_claim_route(client, seller):
    other = factories.make_user("seller")
    factories.make_listing(other, number="201710601862.3")
    db.session.commit()
    from tests.listings.conftest import patent_payload

    res = client.post("/api/v1/listings", json=patent_payload(patent={"application_number": "201710601862.3"}),
                      headers=factories.auth_header(seller))
    assert res.status_code == 409
    item = res.json["error"]["rights"][0]
    assert item["url"] == "/rights/patent/201710601862.3"
    assert item["claim"] == "/api/v1/rights/patent/201710601862.3/claims"
    assert "权属异议" in res.json["error"]["message"]
