"""Wanted ads: posting (bad input refused naming the field, nothing written), review, visibility, browsing."""
import pytest
from sqlalchemy import func, select

from demand import wanted
from demand.models import WantedAd
from marketplace.kernel.errors import Conflict, NotFound, PermissionDenied, ValidationError
from marketplace.kernel.extensions import db
from tests.factories import auth_header

from .conftest import ad_body, future


def _count():
    db.session.expire_all()
    return db.session.scalar(select(func.count(WantedAd.id)))


def test_post_review_and_publish(people):
    ad = wanted.post(people.buyer, ad_body())
    db.session.commit()
    assert ad.status == "pending_review" and ad.ipc == "H01M" and ad.organization_id == people.buyer.organization_id
    with pytest.raises(NotFound):  # not public before review
        wanted.visible(ad.id, people.other_buyer)
    wanted.review(ad.id, people.operator, "approve")
    db.session.commit()
    assert wanted.visible(ad.id, None) is ad and ad.match_pending and wanted.is_open(ad)


@pytest.mark.parametrize("changes,field", [
    ({"budget_min": 5_000_00, "budget_max": 1_000_00}, "budget_max"),  # upside down
    ({"ipc": "Z99Q"}, "ipc"),  # no such IPC entry
    ({"ipc": "H01"}, "ipc"),  # a class, not a section or subclass
    ({"kind": "trademark", "ipc": None, "nice_classes": [46]}, "nice_classes"),  # no such Nice class
    ({"expires_at": "2020-01-01"}, "expires_at"),  # in the past
    ({"expires_at": future(400)}, "expires_at"),  # too far
    ({"title": "x" * 121}, "title"),
    ({"keywords": ["词"] * 9}, "keywords"),
    ({"deal_types": ["gift"]}, "deal_types"),
    ({"region": "mars"}, "region"),
    ({"budget_min": None, "budget_max": None}, "budget_max"),  # neither budget nor 面议
    ({"description": "a\x07b"}, "description"),
    ({"region": ["shenzhen"]}, "region"),  # not a string (was a 500: an unhashable list looked up in REGIONS)
    ({"region": {"a": 1}}, "region"),
    ({"nice_classes": [{}], "kind": "trademark", "ipc": None}, "nice_classes"),
    ({"keywords": [["锂电池"]]}, "keywords"),
    ({"expires_at": ["2027-01-01"]}, "expires_at"),
    ({"budget_min": 1e308, "budget_max": None}, "budget_min"),
])
def test_bad_input_is_refused_naming_the_field(people, changes, field):
    before = _count()
    with pytest.raises(ValidationError) as exc:
        wanted.post(people.buyer, ad_body(**changes))
    db.session.rollback()
    assert field in exc.value.fields
    assert _count() == before


def test_negotiable_has_no_budget(people):
    ad = wanted.post(people.buyer, ad_body(negotiable=True))
    assert ad.budget_min is None and ad.budget_max is None


def test_sellers_cannot_post_and_caps_hold(app, people):
    with pytest.raises(PermissionDenied):
        wanted.post(people.seller, ad_body())
    app.config["MAX_OPEN_WANTED"] = 1
    wanted.post(people.buyer, ad_body())
    db.session.commit()
    before = _count()
    with pytest.raises(Conflict):
        wanted.post(people.buyer, ad_body())
    db.session.rollback()
    assert _count() == before


def test_review_rules(people):
    ad = wanted.post(people.buyer, ad_body())
    db.session.commit()
    with pytest.raises(PermissionDenied):
        wanted.review(ad.id, people.buyer, "approve")
    with pytest.raises(ValidationError):
        wanted.review(ad.id, people.operator, "reject", "")
    db.session.rollback()
    assert db.session.get(WantedAd, ad.id).status == "pending_review"
    wanted.review(ad.id, people.operator, "reject", "需求描述不清")
    db.session.commit()
    assert ad.status == "rejected"
    with pytest.raises(Conflict):
        wanted.review(ad.id, people.operator, "approve")


def test_close_only_by_owner(people, published_ad):
    ad = published_ad()
    with pytest.raises(PermissionDenied):
        wanted.close(ad.id, people.other_buyer)
    db.session.rollback()
    assert db.session.get(WantedAd, ad.id).status == "published"
    wanted.close(ad.id, people.buyer)
    db.session.commit()
    assert ad.status == "closed" and not wanted.is_open(ad)


def test_hidden_name_and_browse_facets(client, people, published_ad):
    published_ad(hide_name=True)
    published_ad(kind="trademark", ipc=None, nice_classes=[9, 42], keywords=["星河"], title="求购第9类商标")
    body = client.get("/api/v1/wanted").get_json()
    assert body["total"] == 2
    assert body["facets"]["kind"] == {"patent": 1, "trademark": 1}
    assert body["facets"]["nice_class"] == {"9": 1, "42": 1}
    names = {r["title"]: r["buyer"] for r in body["results"]}
    assert names["求购锂电池正极材料专利"] == "匿名买家"
    assert people.buyer.organization.name not in client.get("/wanted").get_data(as_text=True).split("求购第9类商标")[0]
    assert client.get("/api/v1/wanted?nice_class=42").get_json()["total"] == 1
    assert client.get("/api/v1/wanted?q=星河").get_json()["total"] == 1
    assert client.get("/api/v1/wanted?kind=plane").status_code == 422
    page = client.get("/wanted?kind=trademark").get_data(as_text=True)
    assert "求购第9类商标" in page and "求购锂电池正极材料专利" not in page


def test_api_post_refuses_naming_field_and_html_form_shows_it(client, people):
    headers = auth_header(people.buyer)
    db.session.commit()
    response = client.post("/api/v1/wanted", json=ad_body(budget_min=9_000_00, budget_max=1_000_00), headers=headers)
    assert response.status_code == 422 and "budget_max" in response.get_json()["error"]["fields"]
    assert _count() == 0
    response = client.post("/api/v1/wanted", json=ad_body(), headers=headers)
    assert response.status_code == 201 and response.get_json()["status"] == "pending_review"
    from tests.conftest import login

    login(client, people.buyer)
    form = {**ad_body(), "keywords": "锂电池 正极", "deal_types": "assignment", "budget_min": "1000",
            "budget_max": "10", "expires_at": future()}
    response = client.post("/wanted/new", data=form)
    assert response.status_code == 422 and "最高预算不能低于最低预算" in response.get_data(as_text=True)
    assert _count() == 1
    form["budget_max"] = "200000"
    response = client.post("/wanted/new", data=form)
    assert response.status_code == 302 and _count() == 2
    ad = db.session.execute(select(WantedAd).order_by(WantedAd.id.desc())).scalars().first()
    assert ad.budget_min == 1000_00 and ad.budget_max == 200000_00 and ad.keywords == ["锂电池", "正极"]
