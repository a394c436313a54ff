"""The data room: uploads, the NDA signed by password, grants, watermarked and logged downloads, revokes, the end
of access when the listing leaves the market; every refusal changes nothing (and is logged where the issue says)."""
import io

import pytest
from sqlalchemy import func, select

from demand import dataroom
from demand.models import DataRoomAccess, DataRoomFile, DataRoomLog
from escrow.contracts import sha256_of
from marketplace.kernel.errors import Conflict, NotFound, PermissionDenied, ValidationError
from marketplace.kernel.extensions import db
from tests import factories
from tests.factories import PASSWORD

from .conftest import pdf_bytes, png_bytes, upload


def _state():
    db.session.expire_all()
    return (db.session.scalar(select(func.count(DataRoomAccess.id))),
            tuple(db.session.scalars(select(DataRoomAccess.status).order_by(DataRoomAccess.id))),
            db.session.scalar(select(func.count(DataRoomFile.id))))


def _refusals():
    db.session.expire_all()
    return db.session.scalar(select(func.count(DataRoomLog.id)).where(DataRoomLog.event == "refused"))


@pytest.fixture
def room(people):
    listing = factories.make_listing(people.seller)
    db.session.commit()
    pdf = dataroom.upload(listing.id, people.seller, upload(pdf_bytes(), "权利要求书.pdf"), "claims")
    png = dataroom.upload(listing.id, people.seller, upload(png_bytes(), "test.png"), "test_report")
    db.session.commit()
    return listing, pdf, png


def test_upload_rules(app, people, room):
    listing, _pdf, _png = room
    before = _state()
    for who, data, name, err in ((people.other_seller, pdf_bytes(), "x.pdf", NotFound),
                                 (people.buyer, pdf_bytes(), "x.pdf", NotFound),
                                 (people.seller, b"MZ\x90\x00 not a pdf", "x.pdf", ValidationError),
                                 (people.seller, b"%PDF-1.4 broken", "x.pdf", ValidationError)):
        with pytest.raises(err):
            dataroom.upload(listing.id, who, upload(data, name))
        db.session.rollback()
    app.config["DATAROOM_MAX_BYTES"] = dataroom.room_bytes(listing) + 10
    with pytest.raises(ValidationError) as exc:
        dataroom.upload(listing.id, people.seller, upload(pdf_bytes(), "big.pdf"))
    db.session.rollback()
    assert "document" in exc.value.fields
    assert _state() == before
    stored = list((dataroom.upload_path(_pdf.stored_name, area=dataroom.AREA).parent).iterdir())
    assert len(stored) == 2  # refused files are not left on disk


def test_full_access_cycle_with_watermark_and_log(people, room):
    listing, pdf, png = room
    dataroom.edit_nda(listing.id, people.seller, "本保密协议约束接收方对资料室全部资料保密，期限三年，违约承担赔偿责任。")
    db.session.commit()
    with pytest.raises(PermissionDenied):  # before any request
        dataroom.download(pdf.id, people.buyer)
    with pytest.raises(ValidationError):  # wrong password: not signed
        dataroom.request_access(listing.id, people.buyer, "wrong-password", "10.0.0.1")
    db.session.rollback()
    assert _state()[0] == 0
    access = dataroom.request_access(listing.id, people.buyer, PASSWORD, "10.0.0.1")
    db.session.commit()
    assert access.status == "requested" and access.signed_ip == "10.0.0.1"
    assert access.nda_sha256 == sha256_of(access.nda_text) and "三年" in access.nda_text
    assert access.organization_name == people.buyer.organization.name
    before, refused = _state(), _refusals()
    with pytest.raises(Conflict):  # a second acceptance
        dataroom.request_access(listing.id, people.buyer, PASSWORD, "10.0.0.1")
    with pytest.raises(PermissionDenied):  # requested, not granted
        dataroom.download(pdf.id, people.buyer)
    with pytest.raises(NotFound):  # another seller cannot grant
        dataroom.grant(access.id, people.other_seller)
    with pytest.raises(PermissionDenied):  # an operator, when the seller has not allowed it
        dataroom.grant(access.id, people.operator)
    db.session.rollback()
    assert _state() == before and _refusals() == refused + 2
    dataroom.grant(access.id, people.seller)
    db.session.commit()
    row, body = dataroom.download(pdf.id, people.buyer, "10.0.0.1")
    db.session.commit()
    from demand.watermark import quiet_import

    PdfReader = quiet_import("pypdf").PdfReader

    reader = PdfReader(io.BytesIO(body))
    assert len(reader.pages) == 2
    assert people.buyer.organization.name in reader.metadata.subject
    assert people.buyer.organization.name in reader.pages[0].extract_text()
    _row, image = dataroom.download(png.id, people.buyer, "10.0.0.1")
    db.session.commit()
    from demand.watermark import quiet_import

    Image = quiet_import("PIL.Image")

    marked = Image.open(io.BytesIO(image)).convert("RGB")
    assert marked.size == (200, 120) and marked.getcolors(10_000) and len(marked.getcolors(10_000)) > 1
    log = dataroom.log_of(listing)
    assert [r.event for r in log][:2] == ["download", "download"] and log[1].detail == "权利要求书.pdf"
    dataroom.revoke(access.id, people.seller)
    db.session.commit()
    refused = _refusals()
    with pytest.raises(PermissionDenied):
        dataroom.download(pdf.id, people.buyer)
    assert _refusals() == refused + 1
    assert dataroom.log_of(listing)[0].detail == "download: revoked"


def test_own_listing_refused_and_logged(people, room):
    listing, _pdf, _png = room
    colleague = factories.make_user("buyer", org=people.seller.organization)
    db.session.commit()
    before, refused = _state(), _refusals()
    with pytest.raises(PermissionDenied):
        dataroom.request_access(listing.id, colleague, PASSWORD)
    assert _state() == before and _refusals() == refused + 1


def test_access_ends_when_the_listing_is_sold_or_withdrawn(people, room):
    listing, pdf, _png = room
    access = dataroom.request_access(listing.id, people.buyer, PASSWORD)
    dataroom.grant(access.id, people.seller)
    db.session.commit()
    dataroom.download(pdf.id, people.buyer)
    listing.status = "sold"
    db.session.commit()
    refused = _refusals()
    with pytest.raises(PermissionDenied):
        dataroom.download(pdf.id, people.buyer)
    assert _refusals() == refused + 1
    with pytest.raises(Conflict):
        dataroom.request_access(listing.id, people.other_buyer, PASSWORD)


def test_operator_grants_only_verified_buyers_when_allowed(people, room):
    listing, _pdf, _png = room
    dataroom.edit_nda(listing.id, people.seller, dataroom.nda_text(listing), operator_may_grant=True)
    verified = dataroom.request_access(listing.id, people.buyer, PASSWORD)
    unverified_user = factories.make_user("buyer", org=factories.make_org(verified=False))
    unverified = dataroom.request_access(listing.id, unverified_user, PASSWORD)
    db.session.commit()
    with pytest.raises(PermissionDenied):
        dataroom.grant(unverified.id, people.operator)
    db.session.rollback()
    assert db.session.get(DataRoomAccess, unverified.id).status == "requested"
    dataroom.grant(verified.id, people.operator)
    db.session.commit()
    assert verified.status == "granted" and verified.granted_by == people.operator.id


def test_nda_edit_does_not_change_what_was_signed(people, room):
    listing, _pdf, _png = room
    access = dataroom.request_access(listing.id, people.buyer, PASSWORD)
    db.session.commit()
    signed = access.nda_sha256
    with pytest.raises(ValidationError):
        dataroom.edit_nda(listing.id, people.seller, "太短")
    with pytest.raises(NotFound):
        dataroom.edit_nda(listing.id, people.other_seller, "x" * 50)
    db.session.rollback()
    dataroom.edit_nda(listing.id, people.seller, "新的保密协议文本，适用于之后签署的买方，期限五年。")
    db.session.commit()
    assert db.session.get(DataRoomAccess, access.id).nda_sha256 == signed


def test_the_room_is_not_in_search_or_public_pages(client, people, room):
    listing, pdf, _png = room
    assert client.get(f"/listings/{listing.id}/dataroom").status_code == 302  # sign in first
    assert client.get(f"/dataroom/files/{pdf.id}").status_code == 302
    assert "权利要求书.pdf" not in client.get(f"/listings/{listing.id}").get_data(as_text=True)
    assert "权利要求书" not in client.get("/api/v1/search?q=权利要求书").get_data(as_text=True).replace(
        "\\u6743", "")
    headers = factories.auth_header(people.other_buyer)
    db.session.commit()
    body = client.get(f"/api/v1/listings/{listing.id}/dataroom", headers=headers).get_json()
    assert "files" not in body and body["nda_text"]
    assert client.get(f"/api/v1/dataroom/files/{pdf.id}", headers=headers).status_code == 403


def test_api_upload_takes_a_file_and_refuses_a_bad_form_field_changing_nothing(client, people, room):
    listing, _pdf, _png = room
    headers = factories.auth_header(people.seller)
    db.session.commit()
    url = f"/api/v1/listings/{listing.id}/dataroom/files"
    before = _state()
    for form, field in (({"category": "secret"}, "category"), ({"comment": "请查收"}, "comment")):
        bad = client.post(url, headers=headers, content_type="multipart/form-data",
                          data={**form, "document": (io.BytesIO(pdf_bytes()), "检测报告.pdf")})
        assert bad.status_code == 422 and field in bad.get_json()["error"]["fields"]
        assert _state() == before
    made = client.post(url, headers=headers, content_type="multipart/form-data",
                       data={"category": "test_report", "document": (io.BytesIO(pdf_bytes()), "检测报告.pdf")})
    assert made.status_code == 201 and made.get_json()["category"] == "test_report"  # the answer's schema: checked
    assert db.session.scalar(select(func.count(DataRoomFile.id))) == 3
