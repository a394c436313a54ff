"""Operator assessments: who may grade, what is refused, history, and 待复核 after material edits."""
import pytest
from sqlalchemy import select

from listings import grading
from listings.models import Encumbrance, GradeAssessment, Listing
from marketplace.kernel.errors import Conflict, PermissionDenied, ValidationError
from marketplace.kernel.extensions import db
from marketplace.kernel.models import AuditLog, Notification
from tests import factories
from tests.grading.conftest import RATIONALE, full_scores


def test_assess_sets_grade_and_keeps_assessment(patent_listing, operator):
    row = grading.assess(patent_listing.id, operator, full_scores("patent", 8), RATIONALE)
    db.session.commit()
    listing = db.session.get(Listing, patent_listing.id)
    assert (row.grade, row.score) == ("B", 80.0)
    assert row.dimensions == {"legal": 80.0, "technical": 80.0, "economic": 80.0}
    assert (listing.grade, listing.grade_score, listing.grade_needs_review) == ("B", 80.0, False)
    assert row.operator_id == operator.id and row.rationale == RATIONALE
    assert row.proposal["stability"] == 8 and row.proposal["advancement"] is None


def test_assess_writes_audit_log_and_notifies_seller(patent_listing, operator):
    grading.assess(patent_listing.id, operator, full_scores("patent", 9), RATIONALE)
    db.session.commit()
    log = db.session.scalars(select(AuditLog).where(AuditLog.action == "grade.assess")).one()
    assert (log.actor_id, log.object_type, log.object_id) == (operator.id, "listing", patent_listing.id)
    assert log.before["grade"] is None and log.after["grade"] == "A"
    note = db.session.scalars(select(Notification).where(Notification.user_id == patent_listing.seller_id)).one()
    assert "A" in note.title


def test_history_kept_and_latest_wins(patent_listing, operator, make_user):
    other = make_user("operator")
    grading.assess(patent_listing.id, operator, full_scores("patent", 9), RATIONALE)
    db.session.commit()
    grading.assess(patent_listing.id, other, full_scores("patent", 6), RATIONALE + "（复核后下调）")
    db.session.commit()
    rows = grading.history(patent_listing.id)
    assert [r.grade for r in rows] == ["C", "A"]
    assert grading.latest_assessment(patent_listing.id).operator_id == other.id
    listing = db.session.get(Listing, patent_listing.id)
    assert (listing.grade, listing.grade_score) == ("C", 60.0)
    logs = db.session.scalars(select(AuditLog).order_by(AuditLog.id)).all()
    assert [(entry.before["grade"], entry.after["grade"]) for entry in logs] == [(None, "A"), ("A", "C")]


def test_trademark_assessment(trademark_listing, operator):
    scores = full_scores("trademark", 7)
    scores["distinctiveness"] = 10
    row = grading.assess(trademark_listing.id, operator, scores, RATIONALE)
    assert row.dimensions == {"legal": 70.0, "brand": 85.0, "economic": 70.0}
    assert row.score == 74.5 and row.grade == "B"


def test_half_points_accepted(patent_listing, operator):
    scores = full_scores("patent", 7.5)
    row = grading.assess(patent_listing.id, operator, scores, RATIONALE)
    assert row.score == 75.0 and row.scores["stability"] == 7.5


@pytest.mark.parametrize("roles", [("buyer",), ("seller",), ("seller", "buyer")])
def test_only_operators_grade(patent_listing, make_user, roles):
    user = make_user(*roles)
    with pytest.raises(PermissionDenied):
        grading.assess(patent_listing.id, user, full_scores("patent"), RATIONALE)


def test_operator_of_own_organisation_refused(patent_listing, make_user):
    colleague = make_user("operator", org=patent_listing.organization)
    with pytest.raises(PermissionDenied):
        grading.assess(patent_listing.id, colleague, full_scores("patent"), RATIONALE)
    assert not grading.can_grade(colleague, patent_listing)


@pytest.mark.parametrize("status", ["draft", "pending_review", "reserved", "sold", "rejected", "withdrawn"])
def test_only_published_listings(app, seller, operator, status):
    listing = factories.make_listing(seller, status=status)
    with pytest.raises(Conflict):
        grading.assess(listing.id, operator, full_scores("patent"), RATIONALE)
    assert db.session.get(Listing, listing.id).grade is None


@pytest.mark.parametrize("change, field", [
    (lambda s: s.pop("stability"), "stability"),
    (lambda s: s.update(stability=11), "stability"),
    (lambda s: s.update(family=-1), "family"),
    (lambda s: s.update(maturity="8"), "maturity"),
    (lambda s: s.update(maturity=True), "maturity"),
    (lambda s: s.update(maturity=None), "maturity"),
    (lambda s: s.update(maturity=float("nan")), "maturity"),
    (lambda s: s.update(bogus=5), "bogus"),
])
def test_bad_scores_refused_and_nothing_changes(patent_listing, operator, change, field):
    scores = full_scores("patent")
    change(scores)
    with pytest.raises(ValidationError) as err:
        grading.assess(patent_listing.id, operator, scores, RATIONALE)
    assert field in err.value.fields
    db.session.rollback()
    assert db.session.scalars(select(GradeAssessment)).all() == []
    assert db.session.get(Listing, patent_listing.id).grade is None


def test_every_bad_indicator_is_named(patent_listing, operator):
    with pytest.raises(ValidationError) as err:
        grading.assess(patent_listing.id, operator, {"stability": 12}, RATIONALE)
    assert set(err.value.fields) == set(grading.indicator_keys("patent"))


@pytest.mark.parametrize("rationale", [None, "", "太短了", "   " + "字" * 19 + "   ", 42])
def test_short_rationale_refused(patent_listing, operator, rationale):
    with pytest.raises(ValidationError) as err:
        grading.assess(patent_listing.id, operator, full_scores("patent"), rationale)
    assert "rationale" in err.value.fields


def test_rationale_of_exactly_20_characters_accepted(patent_listing, operator):
    grading.assess(patent_listing.id, operator, full_scores("patent"), "字" * 20)


def test_scores_must_be_an_object(patent_listing, operator):
    with pytest.raises(ValidationError) as err:
        grading.assess(patent_listing.id, operator, [8] * 15, RATIONALE)
    assert "scores" in err.value.fields


# --- 待复核 -------------------------------------------------------------------

@pytest.fixture
def graded(patent_listing, operator):
    grading.assess(patent_listing.id, operator, full_scores("patent"), RATIONALE)
    db.session.commit()
    return db.session.get(Listing, patent_listing.id)


def test_abstract_edit_marks_for_review(graded):
    graded.rights[0].abstract = "新的摘要：一种改进的正极材料。"
    db.session.flush()
    assert graded.grade_needs_review is True
    db.session.commit()
    listing = db.session.get(Listing, graded.id)
    assert listing.grade == "B" and listing.grade_needs_review is True


@pytest.mark.parametrize("edit", [
    lambda lst: setattr(lst, "title", "改过的标题"),
    lambda lst: setattr(lst, "description", "全新的描述"),
    lambda lst: setattr(lst, "deal_types", ["assignment"]),
    lambda lst: lst.rights[0].encumbrances.append(Encumbrance(kind="pledge", party_name="某银行", source="operator")),
    lambda lst: setattr(lst.rights[0], "legal_status", "lapsed"),
    lambda lst: setattr(lst.rights[0], "claims_count", 3),
    lambda lst: setattr(lst.rights[0], "number", "201710601862.3" if lst.rights[0].number != "201710601862.3"
                        else "200910012345.6"),
])
def test_material_edits_mark_for_review(graded, edit):
    edit(graded)
    db.session.flush()
    assert graded.grade_needs_review is True


def test_adding_a_right_marks_for_review(graded):
    from datetime import date

    from listings.models import Right

    graded.rights.append(Right(kind="patent", number="201810001234.5", title="附加专利", patent_type="invention",
                               filing_date=date(2018, 1, 2), legal_status="granted"))
    db.session.flush()
    assert graded.grade_needs_review is True


@pytest.mark.parametrize("edit", [
    lambda lst: setattr(lst, "price", 2_000_000_00),
    lambda lst: setattr(lst, "status", "reserved"),
    lambda lst: setattr(lst, "price_mode", "negotiable"),
    lambda lst: setattr(lst, "offer_floor", 500_00),
])
def test_price_and_status_changes_do_not(graded, edit):
    edit(graded)
    db.session.flush()
    assert graded.grade_needs_review is False


def test_ungraded_listing_edit_is_not_review(patent_listing):
    patent_listing.rights[0].abstract = "摘要"
    db.session.flush()
    assert patent_listing.grade_needs_review is False


def test_regrading_clears_review(graded, make_user):
    graded.rights[0].abstract = "新的摘要"
    db.session.commit()
    grading.assess(graded.id, make_user("operator"), full_scores("patent", 9), RATIONALE)
    db.session.commit()
    listing = db.session.get(Listing, graded.id)
    assert (listing.grade, listing.grade_needs_review) == ("A", False)


# --- queue, featured row, calibration ---------------------------------------------

def test_queue_ungraded_first_then_review(app, seller, operator):
    from datetime import timedelta

    from marketplace.kernel.timeutil import utcnow

    now = utcnow()

    def published(days_ago):
        listing = factories.make_listing(seller)
        listing.published_at = now - timedelta(days=days_ago)  # the factory stamps "now"
        return listing

    to_review = published(9)
    fine = published(8)
    newest = published(1)
    older = published(2)
    factories.make_listing(seller, status="draft")
    db.session.commit()
    for listing in (to_review, fine):
        grading.assess(listing.id, operator, full_scores("patent"), RATIONALE)
    db.session.commit()
    to_review.rights[0].abstract = "已修改"
    db.session.commit()
    assert [lst.id for lst in grading.grading_queue()] == [older.id, newest.id, to_review.id]


def test_featured_listings_are_grade_a_published(app, seller, operator):
    a1 = factories.make_listing(seller)
    a2 = factories.make_listing(seller)
    b = factories.make_listing(seller)
    db.session.commit()
    grading.assess(a1.id, operator, full_scores("patent", 9), RATIONALE)
    grading.assess(a2.id, operator, full_scores("patent", 10), RATIONALE)
    grading.assess(b.id, operator, full_scores("patent", 7), RATIONALE)
    db.session.commit()
    assert [lst.id for lst in grading.featured_listings()] == [a2.id, a1.id]
    assert [lst.id for lst in grading.featured_listings(limit=1)] == [a2.id]
    a1.status = "reserved"
    db.session.commit()
    assert [lst.id for lst in grading.featured_listings()] == [a2.id]


def test_calibration(app, seller, make_user):
    op1, op2 = make_user("operator", name="甲运营"), make_user("operator", name="乙运营")
    listings = [factories.make_listing(seller) for _ in range(3)]
    db.session.commit()
    proposal = grading.proposal_scores(listings[0])
    scores = {k: (v if v is not None else 8) for k, v in proposal.items()}
    grading.assess(listings[0].id, op1, scores, RATIONALE)  # agrees with the proposal
    raised = {k: min(10, (v if v is not None else 9) + (1 if v is not None else 0)) for k, v in proposal.items()}
    grading.assess(listings[1].id, op2, raised, RATIONALE)
    grading.assess(listings[2].id, op2, full_scores("patent", 4), RATIONALE)
    db.session.commit()
    rows = {r["operator"].id: r for r in grading.calibration()}
    assert rows[op1.id]["count"] == 1 and rows[op1.id]["mean_deviation"] == 0
    assert rows[op2.id]["count"] == 2
    assert rows[op2.id]["grades"]["D"] == 1
    assert rows[op2.id]["mean_deviation"] != 0 and rows[op2.id]["mean_abs_deviation"] > 0
    assert sum(rows[op2.id]["grades"].values()) == 2
