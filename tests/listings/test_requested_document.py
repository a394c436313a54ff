"""A rejection that asks for a document has a place to upload it (issue 17)."""
import io

import pytest
from sqlalchemy import select

from listings import service
from listings.models import Listing
from marketplace.kernel.extensions import db
from marketplace.kernel.models import AuditLog, Notification
from tests import factories
from tests.conftest import login
from tests.factories import PDF


@pytest.fixture
def rejected(app):
    seller = factories.make_user("seller")
    operator = factories.make_user("operator")
    listing = factories.make_listing(seller, status="pending_review")
    db.session.commit()
    service.review_listing(operator, listing.id, "reject", "请补充权利人出具的委托书", requested_document="authorization_doc")
    db.session.commit()
    listing.operator = operator
    return listing


def _doc(listing_id):
    db.session.expire_all()
    row = db.session.get(Listing, listing_id)
    return row.status, row.requested_document, row.authorization_doc, row.supporting_doc


def test_the_rejection_names_the_document_and_the_seller_uploads_it(app, rejected):
    assert _doc(rejected.id)[:2] == ("rejected", "authorization_doc")
    notice = db.session.scalars(select(Notification).where(Notification.user_id == rejected.seller_id)).one()
    assert "权利人委托书" in notice.body and notice.link == f"/listings/{rejected.id}"
    log = db.session.scalars(select(AuditLog).where(AuditLog.action == "listing.reject")).one()
    assert log.after["requested_document"] == "authorization_doc"
    seller = login(app.test_client(), rejected.seller)
    for page in (f"/listings/{rejected.id}", "/my/listings"):
        html = seller.get(page).get_data(as_text=True)
        assert "审核要求补充：" in html and f"/listings/{rejected.id}/requested-document" in html
    response = seller.post(f"/listings/{rejected.id}/requested-document",
                           data={"document": (io.BytesIO(PDF), "委托书.pdf")}, content_type="multipart/form-data")
    assert response.status_code == 302
    status, asked, stored, _other = _doc(rejected.id)
    assert status == "rejected" and asked == "authorization_doc" and stored
    # the operator sees it at the next review, and an approval clears the request
    operator = login(app.test_client(), rejected.operator)
    assert operator.get(f"/listings/{rejected.id}/documents/authorization_doc").status_code == 200
    service.submit_listing(rejected.seller, rejected.id)
    db.session.commit()
    assert "查看权利人委托书" in operator.get("/operator/listings/review").get_data(as_text=True)
    service.review_listing(rejected.operator, rejected.id, "approve")
    db.session.commit()
    assert _doc(rejected.id)[:2] == ("published", None)


def test_the_api_uploads_a_supporting_document(app):
    seller = factories.make_user("seller")
    operator = factories.make_user("operator")
    listing = factories.make_listing(seller, status="pending_review")
    db.session.commit()
    client = app.test_client()
    as_operator, as_seller = factories.auth_header(operator), factories.auth_header(seller)
    db.session.commit()
    response = client.post(f"/api/v1/listings/{listing.id}/review", headers=as_operator,
                           json={"decision": "reject", "reason": "请补充年费缴纳凭证", "requested_document": "supporting_doc"})
    assert response.status_code == 200
    body = client.get(f"/api/v1/listings/{listing.id}", headers=as_seller).get_json()["listing"]
    assert body["requested_document"] == "supporting_doc" and body["requested_document_uploaded"] is False
    response = client.post(f"/api/v1/listings/{listing.id}/requested-document", headers=as_seller,
                           data={"document": (io.BytesIO(PDF), "receipt.pdf")}, content_type="multipart/form-data")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["listing"]["requested_document_uploaded"] is True
    assert _doc(listing.id)[3]


@pytest.mark.parametrize("body", [{"decision": "reject", "reason": "缺材料", "requested_document": "passport"},
                                  {"decision": "approve", "requested_document": "supporting_doc"},
                                  {"decision": "reject", "reason": "缺材料", "requested_document": 7}])
def test_a_bad_request_for_a_document_is_refused_with_nothing_changed(app, body):
    seller = factories.make_user("seller")
    operator = factories.make_user("operator")
    listing = factories.make_listing(seller, status="pending_review")
    db.session.commit()
    client = app.test_client()
    headers = factories.auth_header(operator)
    db.session.commit()
    response = client.post(f"/api/v1/listings/{listing.id}/review", headers=headers, json=body)
    assert response.status_code == 422 and "requested_document" in response.get_json()["error"]["fields"]
    db.session.expire_all()
    assert db.session.get(Listing, listing.id).status == "pending_review"
    assert db.session.get(Listing, listing.id).requested_document is None


def test_uploads_are_refused_with_nothing_changed(app, rejected):
    other = factories.make_user("seller")
    db.session.commit()
    client = app.test_client()
    before = _doc(rejected.id)
    cases = [
        (factories.auth_header(rejected.seller), {"document": (io.BytesIO(b"<html><script>x</script>"), "a.pdf")}, 422),
        (factories.auth_header(rejected.seller), {}, 422),  # no file
        (factories.auth_header(other), {"document": (io.BytesIO(PDF), "a.pdf")}, 404),  # cannot see a rejected one
    ]
    db.session.commit()
    for headers, data, status in cases:
        response = client.post(f"/api/v1/listings/{rejected.id}/requested-document", headers=headers, data=data,
                               content_type="multipart/form-data")
        assert response.status_code == status, response.get_json()
        assert _doc(rejected.id) == before
    # a listing whose rejection asked for nothing (or that is no longer rejected) has nothing to upload
    plain = factories.make_listing(rejected.seller, status="rejected")
    db.session.commit()
    headers = factories.auth_header(rejected.seller)
    db.session.commit()
    response = client.post(f"/api/v1/listings/{plain.id}/requested-document", headers=headers,
                           data={"document": (io.BytesIO(PDF), "a.pdf")}, content_type="multipart/form-data")
    assert response.status_code == 409
    db.session.expire_all()
    assert db.session.get(Listing, plain.id).supporting_doc is None
