"""HTML pages: listing page, wizard, my listings, review queue, import page, home; permissions and XSS."""
import io

import pytest

from listings.models import Listing
from marketplace.kernel.extensions import db
from tests import factories
from tests.factories import PNG
from tests.probes import nothing_changes


def _wizard_form(**overrides):
    form = {"right_count": "1", "title": "锂电池正极材料发明专利", "description": "**好专利**",
            "deal_types": ["assignment"], "price_mode": "fixed", "price": "500000", "region": "guangzhou",
            "rights-0-application_number": "ZL201710601862.3", "rights-0-title": "一种锂电池正极材料",
            "rights-0-filing_date": "2017-07-21", "rights-0-grant_date": "2020-03-10",
            "rights-0-legal_status": "granted", "rights-0-ipc_codes": "H01M 4/36", "rights-0-patent_type": ""}
    form.update(overrides)
    return form


def test_public_listing_page_shows_rights_price_and_seller(client, seller):
    listing = factories.make_listing(seller, status="published", price=1_000_000_00)
    db.session.commit()
    page = client.get(f"/listings/{listing.id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "¥100万" in html
    assert listing.rights[0].number in html and "H01M — " in html
    assert "权利人" in html and seller.organization.name in html
    assert "转让" in html and "普通许可" in html
    assert seller.organization.name in html and "已认证企业" in html
    assert "剩余" in html
    # the slug form of the URL works too
    assert client.get(f"/listings/{listing.id}-lithium-cathode").status_code == 200


def test_unverified_seller_is_said_so_and_negotiable_shows_mianyi(client):
    user = factories.make_user("seller", org=factories.make_org(verified=False))
    listing = factories.make_listing(user, status="published", price_mode="negotiable", price=None,
                                     kind="trademark")
    db.session.commit()
    html = client.get(f"/listings/{listing.id}").get_data(as_text=True)
    assert "尚未完成认证" in html and "面议" in html
    assert "第9类 — 科学仪器" in html and "0901 电子计算机及其外部设备" in html


@pytest.mark.parametrize("status, visible", [("draft", False), ("pending_review", False), ("rejected", False),
                                             ("withdrawn", False), ("expired", False), ("published", True),
                                             ("reserved", True), ("sold", True)])
def test_anonymous_sees_only_public_listings(client, seller, status, visible):
    listing = factories.make_listing(seller, status=status, title="只给看得见的人的挂牌标题")
    db.session.commit()
    res = client.get(f"/listings/{listing.id}")
    assert res.status_code == (200 if visible else 404)
    assert ("只给看得见的人的挂牌标题" in res.get_data(as_text=True)) == visible


def test_other_orgs_draft_is_404_and_own_is_visible(client, seller, as_user):
    draft = factories.make_listing(seller, status="draft", title="别家看不到的草稿")
    other = factories.make_user("seller")
    db.session.commit()
    as_user(other)
    for path in (f"/listings/{draft.id}", f"/listings/{draft.id}/edit"):
        res = client.get(path)
        assert res.status_code == 404 and "别家看不到的草稿" not in res.get_data(as_text=True)
    with nothing_changes():  # still a draft
        assert client.post(f"/listings/{draft.id}/submit").status_code == 404
    as_user(seller)
    for path in (f"/listings/{draft.id}", f"/listings/{draft.id}/edit"):
        res = client.get(path)
        assert res.status_code == 200 and "别家看不到的草稿" in res.get_data(as_text=True)


def test_script_in_description_never_reaches_a_page(client, seller, as_user):
    evil = ('<script>alert("x")</script> **ok** <img src=x onerror="alert(1)"> '
            '[click](javascript:alert(1)) <a href="http://e.com" onclick="steal()">e</a> <style>*{}</style>')
    listing = factories.make_listing(seller, status="published", title='<script>alert(2)</script>')
    listing.description = evil
    db.session.commit()
    for url in (f"/listings/{listing.id}", "/", ):
        html = client.get(url).get_data(as_text=True)
        assert "<script>alert" not in html and "onerror" not in html and "onclick" not in html
        assert "javascript:alert" not in html and "<style>*" not in html
    html = client.get(f"/listings/{listing.id}").get_data(as_text=True)
    assert "<strong>ok</strong>" in html and "&lt;script&gt;alert(2)" in html
    api = client.get(f"/api/v1/listings/{listing.id}").json["listing"]
    assert "<script" not in api["description_html"]
    as_user(seller)
    res = client.post("/listings/new?kind=patent", data=_wizard_form(description=evil, action="preview"))
    html = res.get_data(as_text=True)
    assert res.status_code == 200 and "<strong>ok</strong>" in html
    assert "<script>alert" not in html and 'onerror="alert' not in html


def test_wizard_creates_a_draft_and_submits(client, seller, as_user):
    as_user(seller)
    assert client.get("/listings/new?kind=patent").status_code == 200
    res = client.post("/listings/new?kind=patent", data=_wizard_form())
    assert res.status_code == 302, res.get_data(as_text=True)
    listing = db.session.query(Listing).one()
    assert listing.status == "draft" and listing.price == 500_000_00
    assert listing.rights[0].number == "201710601862.3" and listing.rights[0].patent_type == "invention"
    res = client.post(f"/listings/{listing.id}/edit", data=_wizard_form(then="submit", price="450000"))
    assert res.status_code == 302
    db.session.refresh(listing)
    assert listing.status == "pending_review" and listing.price == 450_000_00


def test_wizard_shows_errors_beside_the_field_and_stores_nothing(client, seller, as_user):
    as_user(seller)
    res = client.post("/listings/new?kind=patent", data=_wizard_form(**{
        "rights-0-application_number": "201710601862.4", "rights-0-ipc_codes": "H04Z 1/00", "price": "abc"}))
    assert res.status_code == 422
    html = res.get_data(as_text=True)
    assert 'id="f-rights-0-application_number-error"' in html and "应为 3" in html
    assert 'id="f-rights-0-ipc_codes-error"' in html and 'id="f-price-error"' in html
    assert 'value="201710601862.4"' in html  # what was typed is kept
    assert db.session.query(Listing).count() == 0


def test_wizard_add_right_row_and_trademark_with_image(client, seller, as_user, app):
    as_user(seller)
    res = client.post("/listings/new?kind=trademark", data={"right_count": "1", "action": "add_right"})
    assert 'name="rights-1-registration_number"' in res.get_data(as_text=True)
    form = {"right_count": "2", "title": "星河商标", "deal_types": ["assignment"], "price_mode": "negotiable",
            "rights-0-registration_number": "12345678", "rights-0-mark_text": "星河",
            "rights-0-nice_classes": "9, 42", "rights-0-similar_groups": "0901, 4220",
            "rights-0-goods": "计算机程序\n软件设计", "rights-0-registration_date": "2018-05-07",
            "rights-0-status": "registered", "rights-1-status": "registered",
            "image": (io.BytesIO(PNG), "mark.png")}
    res = client.post("/listings/new?kind=trademark", data=form, content_type="multipart/form-data")
    assert res.status_code == 302, res.get_data(as_text=True)
    listing = db.session.query(Listing).one()
    assert listing.image and listing.rights[0].goods == ["计算机程序", "软件设计"] and len(listing.rights) == 1
    # drafts' images are only for the organisation; a published one for everyone
    listing.status = "published"
    db.session.commit()
    client.post("/logout")
    img = client.get(f"/listings/{listing.id}/image")
    assert img.status_code == 200 and img.mimetype == "image/png"


def test_trademark_image_must_be_png_or_jpeg_and_small(client, seller, as_user, app):
    listing = factories.make_listing(seller, status="draft", kind="trademark")
    db.session.commit()
    as_user(seller)
    from listings.service import listing_input  # noqa: F401
    form = {"right_count": "1", "title": "星河", "deal_types": ["assignment"], "price_mode": "negotiable",
            "rights-0-registration_number": "12345678", "rights-0-mark_text": "星河", "rights-0-nice_classes": "9",
            "rights-0-registration_date": "2018-05-07", "rights-0-status": "registered",
            "image": (io.BytesIO(b"GIF89a" + b"\x00" * 10), "mark.gif")}
    res = client.post(f"/listings/{listing.id}/edit", data=form, content_type="multipart/form-data")
    assert res.status_code == 422 and "PNG" in res.get_data(as_text=True)
    form["image"] = (io.BytesIO(PNG + b"\x00" * (2 * 1024 * 1024)), "big.png")
    res = client.post(f"/listings/{listing.id}/edit", data=form, content_type="multipart/form-data")
    assert res.status_code == 422 and "2 MB" in res.get_data(as_text=True)
    db.session.refresh(listing)
    assert listing.image is None


def test_buyer_cannot_open_the_wizard(client, buyer, as_user):
    as_user(buyer)
    with nothing_changes():  # no listing, no right
        for method, path, kw in (("GET", "/listings/new", {}), ("POST", "/listings/new?kind=patent",
                                                                  {"data": _wizard_form()}),
                                 ("GET", "/my/listings", {}), ("GET", "/listings/import", {})):
            res = client.open(path, method=method, **kw)
            assert res.status_code == 403 and 'name="title"' not in res.get_data(as_text=True), path


def test_anonymous_is_sent_to_login(client):
    res = client.get("/listings/new")
    assert res.status_code == 302 and "/login" in res.headers["Location"]


def test_my_listings_shows_status_and_rejection_reason(client, seller, operator, as_user):
    listing = factories.make_listing(seller, status="pending_review")
    db.session.commit()
    as_user(operator)
    assert client.get("/operator/listings/review").status_code == 200
    res = client.post(f"/operator/listings/{listing.id}/review", data={"decision": "reject", "reason": ""})
    assert res.status_code == 302 and db.session.get(Listing, listing.id).status == "pending_review"
    client.post(f"/operator/listings/{listing.id}/review", data={"decision": "reject", "reason": "请上传授权公告文本"})
    db.session.refresh(listing)
    assert listing.status == "rejected"
    as_user(seller)
    html = client.get("/my/listings").get_data(as_text=True)
    assert "已驳回" in html and "请上传授权公告文本" in html
    assert client.post(f"/listings/{listing.id}/submit").status_code == 302
    db.session.refresh(listing)
    assert listing.status == "pending_review"
    as_user(operator)
    client.post(f"/operator/listings/{listing.id}/review", data={"decision": "approve"})
    db.session.refresh(listing)
    assert listing.status == "published" and listing.published_at is not None


def test_review_queue_is_for_operators_only(client, seller, buyer, as_user):
    pending = factories.make_listing(seller, status="pending_review", title="待审核的挂牌")
    db.session.commit()
    for user in (seller, buyer):
        as_user(user)
        res = client.get("/operator/listings/review")
        assert res.status_code == 403 and pending.title not in res.get_data(as_text=True)
    client.post("/logout")
    res = client.get("/operator/listings/review")
    assert res.status_code == 302 and "/login" in res.headers["Location"]


def test_import_page(client, seller, as_user):
    from listings import importer
    as_user(seller)
    assert client.get("/listings/import").status_code == 200
    assert client.get("/listings/import/template.csv").status_code == 200
    text = importer.template_csv() + "patent,,,assignment,fixed,1000,,,,,,,,,,201710601862.9,,x,,,,2017-07-21,,,granted\n"
    res = client.post("/listings/import", data={"file": (io.BytesIO(text.encode()), "rights.csv")},
                      content_type="multipart/form-data")
    html = res.get_data(as_text=True)
    assert res.status_code == 200 and "已生成 2 个草稿" in html and "应为" in html
    assert db.session.query(Listing).count() == 2


def test_home_lists_published_and_featured(client, seller):
    published = factories.make_listing(seller, status="published", title="已发布的专利一")
    graded = factories.make_listing(seller, status="published", title="A级好专利", grade="A", grade_score=90.0)
    factories.make_listing(seller, status="draft", title="草稿专利不该出现")
    db.session.commit()
    html = client.get("/").get_data(as_text=True)
    assert published.title in html and graded.title in html and "草稿专利不该出现" not in html
    assert "精选 A 级" in html and "H — 电学" in html and "第9类 — 科学仪器" in html


def test_pages_in_english(client, seller):
    listing = factories.make_listing(seller, status="published", price_mode="negotiable", price=None)
    db.session.commit()
    html = client.get(f"/listings/{listing.id}?lang=en").get_data(as_text=True)
    assert ("Price on request" in html or "Negotiable" in html) and "Rights" in html and "Assignment" in html
    assert "Electric" in html or "Basic electric elements" in html or "H01M — " in html
    home = client.get("/?lang=en").get_data(as_text=True)
    assert "Browse trademarks by Nice class" in home and "Class 9 — Electrical and scientific apparatus" in home


def test_similar_marks_warning_and_bundle_on_the_edit_page(client, seller, as_user):
    first = factories.make_listing(seller, status="published", kind="trademark", number="12345678")
    second = factories.make_listing(seller, status="draft", kind="trademark", number="22345678",
                                    deal_types=("assignment",))
    db.session.commit()
    as_user(seller)
    html = client.get(f"/listings/{second.id}/edit").get_data(as_text=True)
    assert "商标法第四十二条" in html and f'value="{first.id}"' in html and "12345678" in html
    res = client.post(f"/listings/{second.id}/bundle", data={"bundle": [str(first.id)]})
    assert res.status_code == 302
    db.session.refresh(second)
    db.session.refresh(first)
    assert sorted(r.number for r in second.rights) == ["12345678", "22345678"] and first.status == "withdrawn"
    assert client.post(f"/listings/{second.id}/bundle", data={"bundle": ["999"]}).status_code == 302
    res = client.post(f"/listings/{first.id}/reopen")
    assert res.status_code == 302 and db.session.get(Listing, first.id, populate_existing=True).status == "draft"


def test_the_right_page_says_a_pending_application_has_no_term_yet(client):
    """Issue 17: a pending application says so instead of showing a term; a granted right shows its term's end."""
    seller = factories.make_user("seller")
    granted = factories.make_listing(seller).rights[0]
    pending = factories.make_listing(seller).rights[0]
    pending.legal_status, pending.grant_date = "pending", None
    db.session.commit()
    page = client.get(f"/rights/patent/{pending.number}").get_data(as_text=True)
    assert "申请中，授权后起算" in page and "保护期至" not in page
    page = client.get(f"/rights/patent/{granted.number}").get_data(as_text=True)
    assert "保护期至" in page and "申请中" not in page
