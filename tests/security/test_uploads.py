"""Uploads that lie about their type, are too large, or carry path-traversal names, on every upload route.

The type is sniffed from the content (never the name or the Content-Type); the size is capped
per file (``UPLOAD_MAX_BYTES``, ``IMAGE_MAX_BYTES``) and per request (``MAX_CONTENT_LENGTH`` → 413);
files are stored under random names inside ``UPLOAD_PATH`` whatever the client called them.
A refused upload changes nothing and leaves no file behind.
"""
import io
import os
from pathlib import Path

import pytest

from escrow.models import Deal, Document
from listings.models import Listing
from marketplace.kernel.extensions import db
from marketplace.kernel.models import Organization
from tests import factories

from .conftest import PDF, PNG, World, client_for

MAX_FILE, MAX_IMAGE, MAX_REQUEST = 4096, 2048, 64 * 1024
HTML_AS_PDF = b"<html><body><script>alert(document.cookie)</script></body></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>'
EXE = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 64
TRAVERSAL_NAMES = ["../../../../tmp/ipmart-evil.pdf", "..\\..\\..\\ipmart-evil.pdf", "/etc/ipmart-evil.pdf",
                   "....//....//ipmart-evil.pdf", "%2e%2e%2fipmart-evil.pdf", "<img src=x onerror=alert(1)>.pdf"]


@pytest.fixture
def app_config():
    return {"UPLOAD_MAX_BYTES": MAX_FILE, "IMAGE_MAX_BYTES": MAX_IMAGE, "MAX_CONTENT_LENGTH": MAX_REQUEST}


def _deal_funded(w):
    return w.deal("funded")


def _deal_state(w, deal):
    db.session.expire_all()
    return db.session.get(Deal, deal.id).state, db.session.query(Document).filter_by(deal_id=deal.id).count()


def _listing_field(name):
    def probe(w, listing):
        db.session.expire_all()
        return getattr(db.session.get(Listing, listing.id), name)
    return probe


def _org_licence(w, _obj):
    db.session.expire_all()
    return db.session.get(Organization, w.seller.organization_id).business_licence


def _credit_count(w, _obj):
    from marketplace.kernel.credit_models import CreditRecord

    db.session.expire_all()
    return db.session.query(CreditRecord).count()


def _asked_for(w):
    """A rejected listing whose rejection asked for a supporting document (issue 17)."""
    from listings import service

    listing = w.listing(status="pending_review")
    service.review_listing(w.operator, listing.id, "reject", "请补充年费缴纳凭证", requested_document="supporting_doc")
    db.session.commit()
    return listing


# name: (who, api?, setup, path, file field, other form fields, allowed kinds, per-file limit, probe)
ROUTES = {
    "api transfer-filed": ("seller", True, _deal_funded, lambda d: f"/api/v1/deals/{d.id}/transfer-filed",
                           "document", {}, "pdf", MAX_FILE, _deal_state),
    "page transfer-filed": ("seller", False, _deal_funded, lambda d: f"/deals/{d.id}/transfer-filed",
                            "file_transfer-document", {}, "pdf", MAX_FILE, _deal_state),
    "api listing image": ("seller", True,
                          lambda w: w.listing(status="draft", kind="trademark", price_mode="negotiable", price=None),
                          lambda x: f"/api/v1/listings/{x.id}/image", "document", {}, "png", MAX_IMAGE,
                          _listing_field("image")),
    "api pledge consent": ("seller", True, lambda w: w.listing(status="draft"),
                           lambda x: f"/api/v1/listings/{x.id}/pledge-consent", "document", {}, "pdf", MAX_FILE,
                           _listing_field("pledge_consent")),
    "api requested document": ("seller", True, lambda w: _asked_for(w), lambda x: f"/api/v1/listings/{x.id}/requested-document",
                               "document", {}, "pdf", MAX_FILE, _listing_field("supporting_doc")),
    "page requested document": ("seller", False, lambda w: _asked_for(w),
                                lambda x: f"/listings/{x.id}/requested-document", "document", {}, "pdf", MAX_FILE,
                                _listing_field("supporting_doc")),
    "page business licence": ("seller", False, lambda w: None, lambda _x: "/account/organization", "licence", {},
                              "pdf", MAX_FILE, _org_licence),
    "page credit evidence": ("operator", False, lambda w: None, lambda _x: "/operator/credit", "evidence",
                             {"subject_type": "user", "subject_id": None, "violation": "fraud", "level": "warned",
                              "description": "伪造授权文件"}, "pdf", MAX_FILE, _credit_count),
}
GOOD = {"pdf": (PDF, "ok.pdf"), "png": (PNG, "ok.png")}
MAGIC = {"pdf": PDF[:16], "png": PNG[:16]}


def _files_on_disk(app):
    root = Path(app.config["UPLOAD_PATH"])
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []


def _send(app, world, route, content, filename, content_type="application/pdf"):
    who, api, setup, path, field, extra, _kind, _limit, probe = ROUTES[route]
    user = world.user(who)
    obj = setup(world)
    client, headers = client_for(app, user, api)
    data = {k: (str(world.other_buyer.id) if k == "subject_id" else v) for k, v in extra.items()}
    data[field] = (io.BytesIO(content), filename, content_type)
    before = probe(world, obj)
    response = client.post(path(obj), data=data, headers=headers, content_type="multipart/form-data")
    db.session.rollback()
    return response, before, probe(world, obj)


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_a_file_that_lies_about_its_type_is_refused(app, route):
    world = World()
    kind = ROUTES[route][6]
    liars = [(HTML_AS_PDF, "receipt.pdf", "application/pdf"), (SVG, "mark.png", "image/png"),
             (EXE, "scan.jpg", "image/jpeg"), (b"", "empty.pdf", "application/pdf")]
    if kind == "png":  # an image route takes no PDF, whatever it is called
        liars.append((PDF, "mark.png", "image/png"))
    for content, name, content_type in liars:
        files = _files_on_disk(app)
        response, before, after = _send(app, world, route, content, name, content_type)
        assert response.status_code == 422, (route, name, response.status_code)
        assert after == before, (route, name, "changed")
        assert _files_on_disk(app) == files, (route, name, "left a file behind")


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_a_file_that_is_too_large_is_refused(app, route):
    world = World()
    kind, limit = ROUTES[route][6], ROUTES[route][7]
    files = _files_on_disk(app)
    big = MAGIC[kind] + b"\x00" * (limit + 1 - len(MAGIC[kind]))
    response, before, after = _send(app, world, route, big, GOOD[kind][1])
    assert response.status_code == 422 and after == before, (route, response.status_code)
    huge = MAGIC[kind] + b"\x00" * (MAX_REQUEST + 10)
    response, before, after = _send(app, world, route, huge, GOOD[kind][1])
    assert response.status_code == 413 and after == before, (route, response.status_code)
    assert _files_on_disk(app) == files


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_path_traversal_names_are_stored_under_random_names(app, route, tmp_path):
    world = World()
    kind = ROUTES[route][6]
    content = GOOD[kind][0]
    for name in TRAVERSAL_NAMES:
        response, before, after = _send(app, world, route, content, name)
        assert response.status_code in (200, 302), (route, name, response.status_code,
                                                    response.get_data(as_text=True)[:300])
        assert after != before, (route, name, "a good file was not taken")
    root = Path(app.config["UPLOAD_PATH"]).resolve()
    for stored in _files_on_disk(app):
        assert (root / stored).resolve().is_relative_to(root)
        assert "evil" not in stored and "<" not in stored, stored
    for folder in (tmp_path, tmp_path.parent, Path("/tmp"), Path("/etc"), root.parent, root.parent.parent):
        assert not (folder / "ipmart-evil.pdf").exists(), folder
    for document in db.session.query(Document):
        assert "/" not in document.original_name and "\\" not in document.original_name, document.original_name
        assert document.stored_name == os.path.basename(document.stored_name)


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_a_nul_character_in_the_file_name_is_refused(app, route):
    """It reached the database as the original name: PostgreSQL refused the INSERT (a 500)."""
    world = World()
    kind = ROUTES[route][6]
    files = _files_on_disk(app)
    response, before, after = _send(app, world, route, GOOD[kind][0], "ipmart-evil.pdf\x00.png")
    assert response.status_code == 422 and after == before, (route, response.status_code)
    assert _files_on_disk(app) == files


def test_a_document_is_served_as_what_it_is_with_a_safe_name(app):
    world = World()
    deal = world.deal("funded")
    from escrow import deals

    deals.file_transfer(deal.id, world.seller, _upload_named('"; filename=evil.html\r\nX-Evil: 1.pdf'))
    db.session.commit()
    document = db.session.query(Document).filter_by(deal_id=deal.id).one()
    headers = factories.auth_header(world.buyer)
    db.session.commit()
    response = app.test_client().get(f"/api/v1/deals/{deal.id}/documents/{document.id}", headers=headers)
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "X-Evil" not in response.headers
    disposition = response.headers.get("Content-Disposition", "")
    assert "\r" not in disposition and "\n" not in disposition and "evil.html" not in disposition.split(";")[0]


def _upload_named(name):
    from werkzeug.datastructures import FileStorage

    return FileStorage(stream=io.BytesIO(PDF), filename=name, content_type="application/pdf")


def test_csv_import_refuses_a_binary_or_oversized_file(app):
    world = World()
    client = app.test_client()
    with client.session_transaction() as sess:
        sess["_user_id"] = world.seller.get_id()
        sess["_fresh"] = True
    count = db.session.query(Listing).count()
    for content in (EXE, PNG, b"\xff\xfe" + "标题".encode("utf-16-le"), b"title\n" + b"x" * (MAX_REQUEST + 10)):
        response = client.post("/listings/import", data={"file": (io.BytesIO(content), "listings.csv")},
                               content_type="multipart/form-data")
        assert response.status_code in (200, 413, 422), response.status_code
        db.session.rollback()
        assert db.session.query(Listing).count() == count
