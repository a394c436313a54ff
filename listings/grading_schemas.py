"""The grading API's body and answers as marshmallow schemas (``marketplace.kernel.schemas``): the schema
validates the body of ``POST /listings/{id}/grade`` and is its OpenAPI description.

A score's rule (a number 0–10) and an indicator's name are ``listings.grading``'s (``score_problem``,
``unknown_indicator``), read here and by the form; which indicators a listing needs depends on its kind,
which only the listing knows, so ``grading.validate_assessment`` checks that after the schema. A score's
reason is named by its indicator (``stability``), as the form and the service name it.
"""
from marshmallow import fields

from marketplace.kernel import schemas as s

from . import grading
from .models import KINDS

_n = s.nullable
ALL_INDICATORS = tuple(dict.fromkeys(key for kind in KINDS for key in grading.indicator_keys(kind)))
_SCORE = {"type": "number", "minimum": 0, "maximum": 10}


def _scores_schema(kind):
    keys = grading.indicator_keys(kind)
    return {"title": f"{kind} scores", "type": "object", "required": keys,
            "properties": {key: _SCORE for key in keys}, "additionalProperties": False}


class AssessInput(s.Body):
    scores = s.Dict(required=True, metadata={
        "oneOf": [_scores_schema(kind) for kind in KINDS],
        "description": "a score 0–10 for every indicator of the listing's rubric (patent or trademark; see the "
                       "proposal)"})
    rationale = s.String(required=True, validate=s.Length(
        min=grading.MIN_RATIONALE, max=grading.MAX_RATIONALE,
        too_short=s.N_("请填写评级理由，至少 %(n)d 个字符"), too_long=s.N_("评级理由最多 %(n)d 个字符")),
        # at least MIN_RATIONALE characters once surrounding white space is removed (the service strips it)
        metadata={"pattern": r"^\s*\S[\s\S]{%d,}\S\s*$" % (grading.MIN_RATIONALE - 2)})

    @s.validates_schema(skip_on_field_errors=False)
    def _scores(self, data, **kwargs):
        scores = data.get("scores")
        if not isinstance(scores, dict):
            return
        errors = {}
        for key, value in scores.items():
            problem = grading.unknown_indicator(key, ALL_INDICATORS) or (
                None if value is None else grading.score_problem(value))
            if problem:
                errors[str(key)] = problem
        if errors:
            raise s.SchemaError(errors)


# --- answers ---------------------------------------------------------------------------------------------

class IndicatorOut(s.Out):
    key = fields.String(required=True)
    dimension = fields.String(required=True, validate=s.OneOf(["legal", "technical", "economic", "brand"]))
    label = fields.String(required=True)
    score = _n(fields.Float, required=True, validate=s.Range(min=0, max=10))
    reason = fields.String(required=True)
    needs_judgement = fields.Boolean(required=True)


class DimensionOut(s.Out):
    key = fields.String(required=True)
    label = fields.String(required=True)
    weight = fields.Integer(required=True, validate=s.Range(min=0, max=100))


class Proposal(s.Out):
    indicators = fields.List(fields.Nested(IndicatorOut), required=True)
    kind = fields.String(validate=s.OneOf(list(KINDS)))
    dimensions = fields.List(fields.Nested(DimensionOut))


def _dimension_scores(**kwargs):
    return fields.Dict(keys=fields.String(), values=fields.Float(validate=s.Range(min=0, max=100)), **kwargs)


class Grade(s.Out):
    grade = fields.String(required=True, validate=s.OneOf(list(grading.GRADE_LETTERS)))
    score = fields.Float(required=True, validate=s.Range(min=0, max=100))
    dimensions = _dimension_scores(required=True)


class OperatorOut(s.Out):
    id = fields.Integer(required=True)
    name = fields.String(required=True)


class AssessmentOut(Grade):
    id = fields.Integer(required=True)
    scores = fields.Dict(required=True, keys=fields.String(), values=fields.Float(validate=s.Range(min=0, max=10)))
    proposal = _n(fields.Dict, required=True, keys=fields.String(), values=_n(fields.Float))
    rationale = fields.String(required=True)
    operator = fields.Nested(OperatorOut, required=True)
    created_at = fields.DateTime(required=True)


class History(s.Out):
    grade = _n(fields.String, required=True, validate=s.OneOf(list(grading.GRADE_LETTERS)))
    grade_score = _n(fields.Float, required=True)
    needs_review = fields.Boolean(required=True)
    assessments = fields.List(fields.Nested(AssessmentOut), required=True)
