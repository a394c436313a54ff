"""The issue's "done when", tried as a new user would, through the pages, the listings service and the API.

An operator opens the queue, accepts most of the proposal for a patent, changes two
indicators and writes a rationale: the listing page shows grade B with its breakdown.
The seller edits the abstract (withdraw, reopen, edit, resubmit, approved again): the
listing shows 待复核 and is back in the queue until re-graded. A buyer's attempt is refused.
"""
import re

from listings import grading
from listings import service as listing_service
from listings.models import Listing
from marketplace.kernel.extensions import db
from tests import factories
from tests.grading.conftest import RATIONALE


def test_grade_then_edit_then_regrade(client, as_user, app, seller, operator, buyer):
    listing = factories.make_listing(seller, title="一种锂电池正极材料及其制备方法")
    db.session.commit()

    # 1. the queue shows it, the form is pre-filled with the proposal
    as_user(operator)
    html = client.get("/operator/grading").get_data(as_text=True)
    assert f"/operator/grading/{listing.id}" in html
    html = client.get(f"/operator/grading/{listing.id}").get_data(as_text=True)
    prefilled = dict(re.findall(r'name="score-(\w+)"[^>]*?value="([^"]*)"', html, re.S))
    assert set(prefilled) == set(grading.indicator_keys("patent"))

    # 2. keep every proposed score, fill the judgement ones, change two
    form = {f"score-{k}": (v or "7") for k, v in prefilled.items()}
    form["score-stability"] = "9"
    form["score-family"] = "5"
    form.update(rationale=RATIONALE, action="save")
    r = client.post(f"/operator/grading/{listing.id}", data=form)
    assert r.status_code == 302
    graded = db.session.get(Listing, listing.id, populate_existing=True)
    assert graded.grade == "B" and not graded.grade_needs_review

    # 3. the listing page shows the grade and its breakdown
    page = client.get(f"/listings/{listing.id}").get_data(as_text=True)
    assert 'grade grade-B' in page and "grade-breakdown" in page and "<svg" in page and RATIONALE in page

    # 4. the seller edits the abstract: a published listing is withdrawn, reopened, edited and resubmitted
    listing_service.withdraw_listing(seller, listing.id)
    listing_service.reopen_listing(seller, listing.id)
    rights = [listing_service.right_input(r) for r in graded.rights]
    rights[0]["patent"]["abstract"] = "本发明公开了一种改进的锂电池正极材料。"
    listing_service.update_listing(seller, listing.id, {"rights": rights})
    listing_service.submit_listing(seller, listing.id)
    listing_service.review_listing(factories.make_user("operator"), listing.id, "approve")
    db.session.commit()
    relisted = db.session.get(Listing, listing.id)
    assert relisted.status == "published" and relisted.grade == "B" and relisted.grade_needs_review
    page = client.get(f"/listings/{listing.id}").get_data(as_text=True)
    assert "待复核" in page
    assert f"/operator/grading/{listing.id}" in client.get("/operator/grading").get_data(as_text=True)

    # 5. a buyer's attempt to grade is refused, over the API and the page
    headers = factories.auth_header(buyer)
    db.session.commit()
    r = client.post(f"/api/v1/listings/{listing.id}/grade", headers=headers,
                    json={"scores": {k: 9 for k in grading.indicator_keys("patent")}, "rationale": RATIONALE})
    assert r.status_code == 403
    as_user(buyer)
    assert client.post(f"/operator/grading/{listing.id}", data=form).status_code == 403

    # 6. re-graded: 待复核 cleared, history kept
    as_user(operator)
    assert client.post(f"/operator/grading/{listing.id}", data=form).status_code == 302
    regraded = db.session.get(Listing, listing.id, populate_existing=True)
    assert not regraded.grade_needs_review and len(grading.history(listing.id)) == 2
    assert f"/operator/grading/{listing.id}" not in client.get("/operator/grading").get_data(as_text=True)


def test_resaving_unchanged_listing_is_not_material(app, seller, operator):
    listing = factories.make_listing(seller)
    db.session.commit()
    grading.assess(listing.id, operator, {k: 8 for k in grading.indicator_keys("patent")}, RATIONALE)
    db.session.commit()
    listing_service.withdraw_listing(seller, listing.id)
    listing_service.reopen_listing(seller, listing.id)
    listing_service.update_listing(seller, listing.id, {"title": listing.title})  # same facts again
    db.session.commit()
    assert db.session.get(Listing, listing.id).grade_needs_review is False
