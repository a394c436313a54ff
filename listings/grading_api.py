"""JSON API for quality grades (operators): the system's proposal, an assessment, the history.

Thin: authenticate, call ``listings.grading``, commit once, answer in docs/api.md's shape.
"""
from flask import Blueprint, jsonify

from marketplace.kernel.apiutil import API_PREFIX, commit_after, doc, json_body, require_user
from marketplace.kernel.timeutil import iso

from . import grading

bp = Blueprint("grading_api", __name__, url_prefix=API_PREFIX)

_SCORE = {"type": "number", "minimum": 0, "maximum": 10}
INDICATOR_SCHEMA = {
    "type": "object",
    "required": ["key", "dimension", "label", "score", "reason", "needs_judgement"],
    "properties": {
        "key": {"type": "string"},
        "dimension": {"type": "string", "enum": ["legal", "technical", "economic", "brand"]},
        "label": {"type": "string"},
        "score": {"type": ["number", "null"], "minimum": 0, "maximum": 10},
        "reason": {"type": "string"},
        "needs_judgement": {"type": "boolean"},
    },
}
DIMENSION_SCHEMA = {
    "type": "object",
    "required": ["key", "label", "weight"],
    "properties": {"key": {"type": "string"}, "label": {"type": "string"},
                   "weight": {"type": "integer", "minimum": 0, "maximum": 100}},
}
PROPOSAL_SCHEMA = {
    "type": "object",
    "required": ["indicators"],
    "properties": {
        "indicators": {"type": "array", "items": INDICATOR_SCHEMA},
        "kind": {"type": "string", "enum": ["patent", "trademark"]},
        "dimensions": {"type": "array", "items": DIMENSION_SCHEMA},
    },
}
DIMENSION_SCORES = {"type": "object", "additionalProperties": {"type": "number", "minimum": 0, "maximum": 100}}
GRADE_SCHEMA = {
    "type": "object",
    "required": ["grade", "score", "dimensions"],
    "properties": {
        "grade": {"type": "string", "enum": list(grading.GRADE_LETTERS)},
        "score": {"type": "number", "minimum": 0, "maximum": 100},
        "dimensions": DIMENSION_SCORES,
    },
}


def _scores_schema(kind):
    keys = grading.indicator_keys(kind)
    return {"title": f"{kind} scores", "type": "object", "required": keys,
            "properties": {key: _SCORE for key in keys}, "additionalProperties": False}


ASSESS_REQUEST = {
    "type": "object",
    "required": ["scores", "rationale"],
    "properties": {
        "scores": {"oneOf": [_scores_schema("patent"), _scores_schema("trademark")],
                   "description": "a score 0–10 for every indicator of the listing's rubric (patent or trademark; "
                                  "see the proposal)"},
        # at least 20 characters once surrounding white space is removed
        "rationale": {"type": "string", "minLength": grading.MIN_RATIONALE, "maxLength": grading.MAX_RATIONALE,
                      "pattern": r"^\s*\S[\s\S]{%d,}\S\s*$" % (grading.MIN_RATIONALE - 2)},
    },
}
ASSESSMENT_SCHEMA = {
    "type": "object",
    "required": ["id", "grade", "score", "dimensions", "scores", "proposal", "rationale", "operator", "created_at"],
    "properties": {
        "id": {"type": "integer"},
        "grade": {"type": "string", "enum": list(grading.GRADE_LETTERS)},
        "score": {"type": "number", "minimum": 0, "maximum": 100},
        "dimensions": DIMENSION_SCORES,
        "scores": {"type": "object", "additionalProperties": _SCORE},
        "proposal": {"type": ["object", "null"], "additionalProperties": {"type": ["number", "null"]}},
        "rationale": {"type": "string"},
        "operator": {"type": "object", "required": ["id", "name"],
                     "properties": {"id": {"type": "integer"}, "name": {"type": "string"}}},
        "created_at": {"type": "string", "format": "date-time"},
    },
}
HISTORY_SCHEMA = {
    "type": "object",
    "required": ["grade", "grade_score", "needs_review", "assessments"],
    "properties": {
        "grade": {"type": ["string", "null"], "enum": [*grading.GRADE_LETTERS, None]},
        "grade_score": {"type": ["number", "null"]},
        "needs_review": {"type": "boolean"},
        "assessments": {"type": "array", "items": ASSESSMENT_SCHEMA},
    },
}


def assessment_json(row):
    return {"id": row.id, "grade": row.grade, "score": row.score, "dimensions": row.dimensions,
            "scores": row.scores, "proposal": row.proposal, "rationale": row.rationale,
            "operator": {"id": row.operator.id, "name": row.operator.name}, "created_at": iso(row.created_at)}


@bp.get("/listings/<int:listing_id>/grade/proposal")
@doc("The system's pre-score of a listing's quality indicators, with a reason each (operators)",
     tags=["grades"], responses={"200": PROPOSAL_SCHEMA, "403": None, "404": None})
@commit_after
def proposal(listing_id):
    require_user("operator")
    listing = grading.get_listing(listing_id)
    dims = [{"key": d.key, "label": grading.tr(d.label), "weight": d.weight} for d in grading.dimensions_for(listing.kind)]
    return jsonify({"kind": listing.kind, "dimensions": dims, "indicators": grading.propose(listing)})


@bp.post("/listings/<int:listing_id>/grade")
@doc("Grade a published listing: a score 0–10 for every indicator and a rationale (operators, "
     "not of the seller's organisation). The latest assessment is the listing's grade.",
     tags=["grades"], request_schema=ASSESS_REQUEST,
     responses={"200": GRADE_SCHEMA, "403": None, "404": None, "409": None, "422": None})
@commit_after
def assess(listing_id):
    user = require_user("operator")
    data = json_body()
    row = grading.assess(listing_id, user, data.get("scores"), data.get("rationale"))
    return jsonify({"grade": row.grade, "score": row.score, "dimensions": row.dimensions})


@bp.get("/listings/<int:listing_id>/grades")
@doc("Every assessment of a listing, newest first (operators)", tags=["grades"],
     responses={"200": HISTORY_SCHEMA, "403": None, "404": None})
@commit_after
def assessments(listing_id):
    require_user("operator")
    listing = grading.get_listing(listing_id)
    return jsonify({"grade": listing.grade, "grade_score": listing.grade_score,
                    "needs_review": bool(listing.grade_needs_review),
                    "assessments": [assessment_json(row) for row in grading.history(listing.id)]})
