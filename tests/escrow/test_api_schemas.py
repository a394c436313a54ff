"""Issue 20 on the deal's paperwork and the deal's uploads: the schema the OpenAPI document is generated from
validates the body (JSON, or a multipart form's text fields); a refusal is a 422 naming the field and changes
nothing, and the same request within the schema is taken."""
import io

import pytest

from escrow import invoices
from escrow.models import Deal
from marketplace.kernel.extensions import db
from tests import factories
from tests.escrow.conftest import PNG, drive
from tests.factories import PDF
from tests.probes import nothing_changes


def _post(client, user, path, **kw):
    headers = factories.auth_header(user)
    db.session.commit()
    return client.post(path, headers=headers, **kw)


def _fields(response):
    assert response.status_code == 422, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert error["code"] == "validation_error"
    return error["fields"]


# --- the contract -------------------------------------------------------------------------------------

@pytest.mark.parametrize("body,field", [
    ({"password": ["x"]}, "password"),  # a wrong JSON type
    ({}, "password"),  # missing
    ({"password": "x" * 201}, "password"),  # longer than any password
    ({"password": factories.PASSWORD, "pin": "1"}, "pin"),  # an unknown key
])
def test_signing_with_a_body_the_schema_refuses_signs_nothing(client, open_deal, parties, body, field):
    deal = open_deal(signed=False)
    with nothing_changes():
        answer = _post(client, parties.buyer, f"/api/v1/deals/{deal.id}/contract/sign", json=body)
        assert field in _fields(answer)
    answer = _post(client, parties.buyer, f"/api/v1/deals/{deal.id}/contract/sign",
                   json={"password": factories.PASSWORD})
    assert answer.status_code == 200, answer.get_json()
    assert [s["role"] for s in answer.get_json()["contract"]["signatures"]] == ["buyer"]


# --- invoices -----------------------------------------------------------------------------------------

USCC = "91440300MA5F7YRE78"


@pytest.mark.parametrize("change,field", [
    ({"issuer": "bank"}, "issuer"),
    ({"title": "抬" * 101}, "title"),
    ({"title": 42}, "title"),
    ({"invoice_type": "vat"}, "invoice_type"),
    ({"address": "地" * 201}, "address"),
    ({"copies": 2}, "copies"),
])
def test_an_invoice_request_the_schema_refuses_stores_nothing(client, open_deal, parties, change, field):
    deal = drive(open_deal().id, "funded", parties)
    body = {"issuer": "seller", "title": "买方科技有限公司", "taxpayer_id": USCC, "invoice_type": "normal"}
    with nothing_changes():
        assert field in _fields(_post(client, parties.buyer, f"/api/v1/deals/{deal.id}/invoices",
                                      json={**body, **change}))
    answer = _post(client, parties.buyer, f"/api/v1/deals/{deal.id}/invoices", json=body)
    assert answer.status_code == 201, answer.get_json()
    assert answer.get_json()["invoice"]["status"] == "requested"
    assert len(invoices.invoices_of(db.session.get(Deal, deal.id))) == 1


def test_the_invoice_number_and_the_tech_registration_are_checked_by_their_schemas(client, open_deal, parties):
    deal = drive(open_deal().id, "funded", parties)
    assert _post(client, parties.buyer, f"/api/v1/deals/{deal.id}/invoices", json={
        "issuer": "seller", "title": "买方科技有限公司", "taxpayer_id": USCC, "invoice_type": "normal"}).status_code == 201
    with nothing_changes():
        assert "invoice_number" in _fields(_post(client, parties.seller, f"/api/v1/deals/{deal.id}/invoices/seller/issued",
                                                 json={"invoice_number": 12345678}))
        assert "registration_number" in _fields(_post(client, parties.seller, f"/api/v1/deals/{deal.id}/tech-contract",
                                                      json={"registration_number": ["2026440000001"]}))
    issued = _post(client, parties.seller, f"/api/v1/deals/{deal.id}/invoices/seller/issued",
                   json={"invoice_number": "12345678"})
    assert issued.status_code == 200 and issued.get_json()["invoice"]["invoice_number"] == "12345678"
    registered = _post(client, parties.seller, f"/api/v1/deals/{deal.id}/tech-contract",
                       json={"registration_number": "2026440000001"})
    assert registered.status_code == 200, registered.get_json()


# --- the recordal check -------------------------------------------------------------------------------

def test_rejecting_the_recordal_needs_a_reason_within_the_schema(client, open_deal, parties):
    deal = drive(open_deal().id, "recordal_submitted", parties)
    path = f"/api/v1/deals/{deal.id}/recordal/reject"
    with nothing_changes():
        assert "reason" in _fields(_post(client, parties.operator, path, json={"reason": "短"}))
        assert "reason" in _fields(_post(client, parties.operator, path, json={"reason": "x" * 1001}))
        assert "why" in _fields(_post(client, parties.operator, path, json={"reason": "发文序号与通知书不符", "why": 1}))
    answer = _post(client, parties.operator, path, json={"reason": "发文序号与通知书不符"})
    assert answer.status_code == 200 and answer.get_json()["deal"]["state"] == "transfer_filed"


# --- multipart uploads: the text fields go through the route's schema; the file is the service's -------------

def test_the_filing_receipts_form_fields_are_checked_by_its_schema(client, open_deal, parties):
    deal = drive(open_deal().id, "funded", parties)
    path = f"/api/v1/deals/{deal.id}/transfer-filed"

    def form(**extra):
        return {"document": (io.BytesIO(PDF), "receipt.pdf"), **extra}

    with nothing_changes():
        assert "note" in _fields(_post(client, parties.seller, path, data=form(note="备" * 1001),
                                       content_type="multipart/form-data"))
        assert "notes" in _fields(_post(client, parties.seller, path, data=form(notes="已提交"),
                                        content_type="multipart/form-data"))
        # the file is still the service's to check (marketplace.kernel.uploads): a text file is refused by it
        answer = _post(client, parties.seller, path, data={"document": (io.BytesIO(b"hello"), "receipt.pdf")},
                       content_type="multipart/form-data")
        assert answer.status_code == 422 and "document" in answer.get_json()["error"]["fields"]
    answer = _post(client, parties.seller, path, data=form(note="已向国知局提交著录项目变更"),
                   content_type="multipart/form-data")
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["deal"]["state"] == "transfer_filed"


def test_the_approval_notices_details_are_checked_by_its_schema(client, open_deal, parties):
    deal = drive(open_deal().id, "transfer_filed", parties)
    path = f"/api/v1/deals/{deal.id}/transfer-recorded"
    details = factories.recordal_details(deal)

    def form(**extra):
        return {"document": (io.BytesIO(PNG), "notice.png"), **details, **extra}

    with nothing_changes():
        assert "notice_date" in _fields(_post(client, parties.seller, path, data=form(notice_date="2026/12/04"),
                                              content_type="multipart/form-data"))
        assert "notice_number" in _fields(_post(client, parties.seller, path, data=form(notice_number="1" * 21),
                                                content_type="multipart/form-data"))
    answer = _post(client, parties.seller, path, data=form(), content_type="multipart/form-data")
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["deal"]["state"] == "recordal_submitted"


def test_upload_routes_are_documented_as_multipart_forms_from_their_schemas(app):
    from marketplace.web.openapi import build_document

    paths = build_document(app)["paths"]
    for path in ("/api/v1/deals/{deal_id}/transfer-filed", "/api/v1/deals/{deal_id}/transfer-recorded",
                 "/api/v1/listings/{listing_id}/requested-document",
                 "/api/v1/finance/loans/{application_id}/statements"):
        content = paths[path]["post"]["requestBody"]["content"]
        schema = content["multipart/form-data"]["schema"]
        assert schema["properties"]["document"] == {**schema["properties"]["document"], "type": "string",
                                                     "format": "binary"}
        assert "document" in schema["required"] and schema["additionalProperties"] is False
    report = paths["/api/v1/licences/{licence_id}/periods/{period_id}/report"]["post"]["requestBody"]["content"]
    assert set(report) == {"application/json", "multipart/form-data"}
    assert "attachment" in report["multipart/form-data"]["schema"]["properties"]
    assert "attachment" not in report["application/json"]["schema"]["properties"]
