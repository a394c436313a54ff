"""JSON API for quality grades (operators): the system's proposal, an assessment, the history.

Thin: authenticate, call ``listings.grading``, commit once, answer in docs/api.md's shape.
"""
from flask import Blueprint, jsonify

from marketplace.kernel.apiutil import API_PREFIX, commit_after, doc, json_body, require_user
from marketplace.kernel.timeutil import iso

from . import grading
from . import grading_schemas as sc

bp = Blueprint("grading_api", __name__, url_prefix=API_PREFIX)


def assessment_json(row):
    return {"id": row.id, "grade": row.grade, "score": row.score, "dimensions": row.dimensions,
            "scores": row.scores, "proposal": row.proposal, "rationale": row.rationale,
            "operator": {"id": row.operator.id, "name": row.operator.name}, "created_at": iso(row.created_at)}


@bp.get("/listings/<int:listing_id>/grade/proposal")
@doc("The system's pre-score of a listing's quality indicators, with a reason each (operators)",
     tags=["grades"], responses={"200": sc.Proposal, "403": None, "404": None})
@commit_after
def proposal(listing_id):
    require_user("operator")
    listing = grading.get_listing(listing_id)
    dims = [{"key": d.key, "label": grading.tr(d.label), "weight": d.weight} for d in grading.dimensions_for(listing.kind)]
    return jsonify({"kind": listing.kind, "dimensions": dims, "indicators": grading.propose(listing)})


@bp.post("/listings/<int:listing_id>/grade")
@doc("Grade a published listing: a score 0–10 for every indicator and a rationale (operators, "
     "not of the seller's organisation). The latest assessment is the listing's grade.",
     tags=["grades"], request_schema=sc.AssessInput,
     responses={"200": sc.Grade, "403": None, "404": None, "409": None, "422": None})
@commit_after
def assess(listing_id):
    user = require_user("operator")
    data = json_body()
    row = grading.assess(listing_id, user, data.get("scores"), data.get("rationale"))
    return jsonify({"grade": row.grade, "score": row.score, "dimensions": row.dimensions})


@bp.get("/listings/<int:listing_id>/grades")
@doc("Every assessment of a listing, newest first (operators)", tags=["grades"],
     responses={"200": sc.History, "403": None, "404": None})
@commit_after
def assessments(listing_id):
    require_user("operator")
    listing = grading.get_listing(listing_id)
    return jsonify({"grade": listing.grade, "grade_score": listing.grade_score,
                    "needs_review": bool(listing.grade_needs_review),
                    "assessments": [assessment_json(row) for row in grading.history(listing.id)]})
