"""Issue 20 on the finance desk's API: the schemas the OpenAPI document is generated from validate each body and
the voucher report's query; a refusal is a 422 naming the field and changes nothing, the same request within the
schema is taken."""
import io

import pytest

from marketplace.kernel.extensions import db
from tests.factories import PDF
from tests.probes import nothing_changes

from .conftest import api


def _fields(response):
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.get_json()["error"]["code"] == "validation_error"
    return response.get_json()["error"]["fields"]


def _valuation(desk, **kw):
    return {"rights": desk.rights(desk.patent), "revenues": [100_000_00] * 3, "royalty_rate": "8",
            "discount_rate": "12", "life_years": 3, **kw}


@pytest.mark.parametrize("change,field", [
    ({"royalty_rate": 8}, "royalty_rate"),  # a rate is text ("8", "12.5"): a JSON number is the wrong type
    ({"rights": [{"kind": "design", "number": "1"}]}, "rights[0].kind"),
    ({"rights": [{"kind": "patent"}]}, "rights[0].number"),
    ({"revenues": [100, "lots", 100]}, "revenues[1]"),
    ({"life_years": 31}, "life_years"),
    ({"method": "cost"}, "method"),
])
def test_a_valuation_the_schema_refuses_values_nothing(client, desk, change, field):
    with nothing_changes():
        assert field in _fields(api(client, desk.sme, "POST", "/valuations", json=_valuation(desk, **change)))
    answer = api(client, desk.sme, "POST", "/valuations", json=_valuation(desk))
    assert answer.status_code == 201, answer.get_json()
    assert answer.get_json()["valuation"]["status"] == "self_assessment"


def test_attaching_needs_listing_id_and_null_detaches(client, desk):
    vid = api(client, desk.sme, "POST", "/valuations", json=_valuation(desk)).get_json()["valuation"]["id"]
    with nothing_changes():
        fields = _fields(api(client, desk.sme, "POST", f"/valuations/{vid}/attach", json={}))
        assert "null" in fields["listing_id"]  # 必填（null 表示取消附加）: the schema's message, once
        assert "listing_id" in _fields(api(client, desk.sme, "POST", f"/valuations/{vid}/attach",
                                           json={"listing_id": "first"}))
    answer = api(client, desk.sme, "POST", f"/valuations/{vid}/attach", json={"listing_id": None})
    assert answer.status_code == 200 and answer.get_json()["valuation"]["listing_id"] is None


def _application(client, desk):
    body = {"rights": desk.rights(), "amount": 30_000_00, "term_months": 12, "purpose": "购置生产设备",
            "banks": [desk.bank.organization_id]}
    return api(client, desk.sme, "POST", "/loans", json=body).get_json()["application"]["id"]


def test_a_banks_offer_and_question_are_checked_by_their_schemas(client, desk):
    aid = _application(client, desk)
    with nothing_changes():
        assert "rate_bps" in _fields(api(client, desk.bank, "POST", f"/loans/{aid}/offers", json={
            "amount": 30_000_00, "rate_bps": 3601, "term_months": 12}))
        assert "body" in _fields(api(client, desk.bank, "POST", f"/loans/{aid}/questions", json={"body": "问" * 2001}))
        assert "bank_organization_id" in _fields(api(client, desk.sme, "POST", f"/loans/{aid}/answers", json={
            "bank_organization_id": "招商银行", "body": "见附件"}))
    offer = api(client, desk.bank, "POST", f"/loans/{aid}/offers", json={"amount": 30_000_00, "rate_bps": 385,
                                                                       "term_months": 12})
    assert offer.status_code == 200 and offer.get_json()["application"]["offers"][0]["rate_bps"] == 385


def test_the_statements_upload_checks_its_form_fields_by_the_schema(client, desk):
    aid = _application(client, desk)
    with nothing_changes():
        assert "year" in _fields(api(client, desk.sme, "POST", f"/loans/{aid}/statements", data={
            "document": (io.BytesIO(PDF), "statements.pdf"), "year": "2025"}, content_type="multipart/form-data"))
    answer = api(client, desk.sme, "POST", f"/loans/{aid}/statements",
                 data={"document": (io.BytesIO(PDF), "statements.pdf")}, content_type="multipart/form-data")
    assert answer.status_code == 200 and answer.get_json()["application"]["statements"] is True


def test_settlements_and_roles_are_checked_by_their_schemas(client, desk):
    user_id = desk.sme.id
    with nothing_changes():
        assert "issuer_organization_id" in _fields(api(client, desk.operator, "POST", "/voucher-settlements", json={
            "issuer_organization_id": "广东省", "reference": "BOC2026120500001"}))
        assert "role" in _fields(api(client, desk.operator, "POST", "/roles", json={
            "user_id": user_id, "role": "operator", "grant": True}))  # never through the finance desk
        assert "grant" in _fields(api(client, desk.operator, "POST", "/roles", json={
            "user_id": user_id, "role": "valuer", "grant": "yes"}))
    answer = api(client, desk.operator, "POST", "/roles", json={"user_id": user_id, "role": "valuer", "grant": True})
    assert answer.status_code == 200 and "valuer" in answer.get_json()["roles"]
    db.session.expire_all()


def test_the_voucher_report_checks_its_days(client, desk):
    assert "from" in _fields(api(client, desk.issuer, "GET", "/voucher-report?from=2026-13-01"))
    assert "to" in _fields(api(client, desk.issuer, "GET", "/voucher-report.csv?to=yesterday"))
    answer = api(client, desk.issuer, "GET", "/voucher-report?from=2026-01-01&to=2026-12-31")
    assert answer.status_code == 200 and answer.get_json()["total"] == 0
