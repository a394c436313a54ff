"""Grade pages: the public rubric, the operators' queue, form and calibration, the badge and breakdown chart."""
import re

import pytest
from flask import render_template_string

from listings import grading
from listings.models import GradeAssessment, Listing
from marketplace.kernel.extensions import db
from tests import factories
from tests.grading.conftest import RATIONALE, full_scores


def test_rubric_page_public_explains_every_indicator(client):
    r = client.get("/grades/rubric")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    for kind in ("patent", "trademark"):
        for ind in grading.indicators_for(kind):
            assert f'id="indicator-{kind}-{ind.key}"' in html
            assert ind.label in html and ind.improve in html
    assert "GB/T 42748-2023" in html and "占总分 40%" in html
    assert "总分 ≥ 85" in html


def test_rubric_page_in_english(client):
    html = client.get("/grades/rubric?lang=en").get_data(as_text=True)
    assert "Legal value" in html and "Remaining term" in html


@pytest.mark.parametrize("url", ["/operator/grading", "/operator/grading/calibration"])
def test_operator_pages_refuse_others(client, as_user, buyer, url):
    r = client.get(url)
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    as_user(buyer)
    assert client.get(url).status_code == 403


def test_queue_lists_ungraded_then_review(client, as_user, operator, seller):
    fresh = factories.make_listing(seller, title="待评级的专利甲")
    graded = factories.make_listing(seller, title="已评级的专利乙")
    db.session.commit()
    grading.assess(graded.id, operator, full_scores("patent"), RATIONALE)
    db.session.commit()
    as_user(operator)
    html = client.get("/operator/grading").get_data(as_text=True)
    assert "待评级的专利甲" in html and "已评级的专利乙" not in html
    graded.rights[0].abstract = "改过"
    db.session.commit()
    html = client.get("/operator/grading").get_data(as_text=True)
    assert html.index("待评级的专利甲") < html.index("已评级的专利乙") and "待复核" in html
    assert f"/operator/grading/{fresh.id}" in html


def test_queue_marks_own_organisation(client, as_user, seller, make_user):
    listing = factories.make_listing(seller)
    colleague = make_user("operator", org=seller.organization)
    db.session.commit()
    as_user(colleague)
    html = client.get("/operator/grading").get_data(as_text=True)
    assert f"/operator/grading/{listing.id}" not in html and "本单位挂牌" in html
    assert client.get(f"/operator/grading/{listing.id}").status_code == 403


def test_form_prefilled_with_proposal(client, as_user, operator, patent_listing):
    as_user(operator)
    r = client.get(f"/operator/grading/{patent_listing.id}")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert re.search(r'name="score-stability"[^>]*value="8"', html, re.S)
    assert re.search(r'name="score-advancement"[^>]*value=""', html, re.S)
    assert "已授权发明专利，经过实质审查，稳定性较好" in html and "需人工判断" in html


def _form(scores, rationale=RATIONALE, action="save"):
    data = {f"score-{k}": str(v) for k, v in scores.items()}
    data.update(rationale=rationale, action=action)
    return data


def test_form_accepts_proposal_with_two_changes(client, as_user, operator, patent_listing):
    """The issue's walk-through: accept most of the proposal, change two indicators, write a rationale."""
    as_user(operator)
    proposal = grading.proposal_scores(patent_listing)
    scores = {k: (v if v is not None else 7) for k, v in proposal.items()}
    scores["stability"], scores["market_application"] = 9, 8
    r = client.post(f"/operator/grading/{patent_listing.id}", data=_form(scores))
    assert r.status_code == 302 and r.headers["Location"].endswith("/operator/grading")
    listing = db.session.get(Listing, patent_listing.id, populate_existing=True)
    assert listing.grade in "ABCD" and listing.grade_needs_review is False
    row = db.session.query(GradeAssessment).one()
    assert row.scores["stability"] == 9 and row.rationale == RATIONALE


def test_form_errors_beside_fields_and_nothing_saved(client, as_user, operator, patent_listing):
    as_user(operator)
    scores = full_scores("patent")
    scores["family"] = 12
    scores["maturity"] = "abc"
    data = _form(scores, rationale="太短")
    data["score-policy_fit"] = ""
    r = client.post(f"/operator/grading/{patent_listing.id}", data=data)
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    for key in ("family", "maturity", "policy_fit", "rationale"):
        assert f'id="score-{key}-error"' in html or f'id="{key}-error"' in html
    assert 'value="12"' in html and 'value="abc"' in html and "太短" in html
    assert db.session.query(GradeAssessment).count() == 0


def test_form_preview_does_not_save(client, as_user, operator, patent_listing):
    as_user(operator)
    r = client.post(f"/operator/grading/{patent_listing.id}", data=_form(full_scores("patent", 9), "", "preview"))
    assert r.status_code == 200
    assert "预览：总分 90.0，等级 A" in r.get_data(as_text=True)
    assert db.session.query(GradeAssessment).count() == 0


def test_form_on_unpublished_listing_409(client, as_user, operator, seller):
    listing = factories.make_listing(seller, status="withdrawn")
    db.session.commit()
    as_user(operator)
    assert client.get(f"/operator/grading/{listing.id}").status_code == 200  # shown, with a warning
    r = client.post(f"/operator/grading/{listing.id}", data=_form(full_scores("patent")))
    assert r.status_code == 409
    assert db.session.query(GradeAssessment).count() == 0


def test_form_buyer_refused(client, as_user, buyer, patent_listing):
    as_user(buyer)
    assert client.post(f"/operator/grading/{patent_listing.id}", data=_form(full_scores("patent"))).status_code == 403
    assert db.session.query(GradeAssessment).count() == 0


def test_calibration_page(client, as_user, operator, seller, make_user):
    other = make_user("operator", name="校准测试员")
    listings = [factories.make_listing(seller) for _ in range(2)]
    db.session.commit()
    grading.assess(listings[0].id, operator, full_scores("patent", 9), RATIONALE)
    grading.assess(listings[1].id, other, full_scores("patent", 4), RATIONALE)
    db.session.commit()
    as_user(operator)
    html = client.get("/operator/grading/calibration").get_data(as_text=True)
    assert "校准测试员" in html and operator.name in html and "<svg" in html
    assert "style=" not in html.split("<main", 1)[1]


def _render(listing):
    return render_template_string('{% include "listings/_grade_breakdown.html" %}', listing=listing)


def test_badge_and_breakdown_chart(app, patent_listing, operator):
    with app.test_request_context("/"):
        assert "尚未完成质量评级" in _render(patent_listing)
    scores = full_scores("patent", 8)
    scores.update(advancement=10, maturity=10, breadth=10, substitutability=10, independence=10)
    grading.assess(patent_listing.id, operator, scores, RATIONALE)
    db.session.commit()
    listing = db.session.get(Listing, patent_listing.id)
    with app.test_request_context("/"):
        html = _render(listing)
        badge = render_template_string('{% from "listings/_grade.html" import grade_badge %}{{ grade_badge(l) }}',
                                       l=listing)
    assert 'class="grade grade-A"' in badge and "86.0" in badge and "待复核" not in badge  # 0.4·80 + 0.3·100 + 0.3·80
    assert "<svg" in html and "style=" not in html
    assert 'width="280.0"' in html  # technical value 100: a full bar
    assert "法律价值" in html and "技术价值" in html and "经济价值" in html
    assert RATIONALE in html and "86.0" in html


def test_breakdown_shows_review_note(app, patent_listing, operator):
    grading.assess(patent_listing.id, operator, full_scores("patent"), RATIONALE)
    db.session.commit()
    patent_listing.rights[0].abstract = "卖家修改了摘要"
    db.session.commit()
    listing = db.session.get(Listing, patent_listing.id)
    with app.test_request_context("/"):
        html = _render(listing)
    assert "待复核" in html and "等待运营人员重新评级" in html
