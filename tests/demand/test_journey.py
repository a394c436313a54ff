"""The issue's path through the pages (HTML, signed-in clients): a buyer posts a wanted ad, an operator approves,
a seller's new listing matches it, both are told, the seller answers, the buyer signs the NDA, is granted, downloads
a watermarked file, and the seller sees the log and revokes."""
import io
import re

from sqlalchemy import select

from demand.models import DataRoomAccess, DataRoomFile, WantedAd, WantedAnswer
from marketplace.kernel.extensions import db
from marketplace.kernel.models import Notification
from tests import factories
from tests.conftest import login
from tests.factories import PASSWORD

from .conftest import future, pdf_bytes


def _client(app, user):
    client = app.test_client()
    login(client, user)
    return client


def test_wanted_ad_to_watermarked_download(app, runner, people):
    buyer, seller, operator = (_client(app, u) for u in (people.buyer, people.seller, people.operator))
    response = buyer.post("/wanted/new", data={
        "kind": "patent", "title": "求购锂电池正极材料专利", "keywords": "锂电池 正极材料", "ipc": "h01m",
        "deal_types": "assignment", "budget_min": "100000", "budget_max": "2000000", "region": "shenzhen",
        "expires_at": future(), "hide_name": "1"})
    assert response.status_code == 302
    ad = db.session.scalars(select(WantedAd)).one()
    assert "求购锂电池正极材料专利" not in app.test_client().get("/wanted").get_data(as_text=True)
    assert "求购锂电池正极材料专利" in operator.get("/operator/wanted").get_data(as_text=True)
    assert operator.post(f"/operator/wanted/{ad.id}/review", data={"decision": "approve"}).status_code == 302
    public = app.test_client().get("/wanted").get_data(as_text=True)
    assert "求购锂电池正极材料专利" in public and "匿名买家" in public and people.buyer.organization.name not in public
    assert runner.invoke(args=["search", "sync"]).exit_code == 0

    listing = factories.make_listing(people.seller, title="高镍三元锂电池正极材料制备方法")
    db.session.commit()
    assert runner.invoke(args=["search", "sync"]).exit_code == 0
    page = buyer.get(f"/wanted/{ad.id}").get_data(as_text=True)
    assert "高镍三元锂电池正极材料制备方法" in page and "H01M 4/36" in page and "价格在预算内" in page
    for user in (people.buyer, people.seller):
        assert db.session.scalars(select(Notification).where(Notification.user_id == user.id,
                                                             Notification.kind == "wanted_match")).all()
    assert "高镍三元锂电池正极材料制备方法" in seller.get("/wanted/mine").get_data(as_text=True)

    response = seller.post(f"/wanted/{ad.id}/answer", data={"listing_id": str(listing.id),
                                                            "message": "我方专利符合您的需求，可提供检测报告"})
    assert response.status_code == 302
    thread = db.session.scalars(select(WantedAnswer)).one()
    assert "可提供检测报告" in buyer.get(f"/wanted/answers/{thread.id}").get_data(as_text=True)
    assert buyer.post(f"/wanted/answers/{thread.id}/message", data={"message": "请开放资料室"}).status_code == 302

    response = seller.post(f"/listings/{listing.id}/dataroom/files", data={
        "category": "test_report", "document": (io.BytesIO(pdf_bytes()), "检测报告.pdf")},
        content_type="multipart/form-data")
    assert response.status_code == 302
    file_row = db.session.scalars(select(DataRoomFile)).one()
    room_page = buyer.get(f"/listings/{listing.id}/dataroom").get_data(as_text=True)
    assert "保密协议" in room_page and "检测报告.pdf" not in room_page
    assert buyer.get(f"/dataroom/files/{file_row.id}").status_code == 403
    assert buyer.post(f"/listings/{listing.id}/dataroom/request", data={"password": PASSWORD}).status_code == 302
    access = db.session.scalars(select(DataRoomAccess)).one()
    assert access.status == "requested" and len(access.nda_sha256) == 64
    seller_page = seller.get(f"/listings/{listing.id}/dataroom").get_data(as_text=True)
    assert access.nda_sha256[:16] in seller_page
    assert seller.post(f"/dataroom/access/{access.id}/grant").status_code == 302
    response = buyer.get(f"/dataroom/files/{file_row.id}")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.headers["Cache-Control"] == "no-store"
    from demand.watermark import quiet_import

    PdfReader = quiet_import("pypdf").PdfReader

    text = PdfReader(io.BytesIO(response.data)).pages[0].extract_text()
    assert people.buyer.organization.name in text and re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", text)
    log_page = seller.get(f"/listings/{listing.id}/dataroom").get_data(as_text=True)
    assert "检测报告.pdf" in log_page and people.buyer.organization.name in log_page
    assert seller.post(f"/dataroom/access/{access.id}/revoke").status_code == 302
    assert buyer.get(f"/dataroom/files/{file_row.id}").status_code == 403
    assert "被拒绝" in seller.get(f"/listings/{listing.id}/dataroom").get_data(as_text=True)


def test_pages_render_in_english(app, people, published_ad):
    ad = published_ad()
    client = _client(app, people.buyer)
    client.get("/lang/en")
    assert "Wanted ads" in client.get("/wanted").get_data(as_text=True)
    assert "Matching listings" in client.get(f"/wanted/{ad.id}").get_data(as_text=True)
    assert "Post a wanted ad" in client.get("/wanted/new").get_data(as_text=True)
