"""HTML pages for quality grades: the public rubric, the operators' grading queue, form and calibration.

Thin: the rules live in ``listings.grading``. Also registers ``grade_breakdown(listing)``,
a template global that ``templates/listings/_grade_breakdown.html`` draws as a
server-side SVG chart (no script, no inline styles: the CSP allows neither).
"""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import TextAreaField

from marketplace.kernel.errors import PermissionDenied, ValidationError
from marketplace.kernel.numbers import NumberError, parse_decimal
from marketplace.kernel.viewutil import operator_required
from marketplace.kernel.webutil import act

from . import grading
from .grading import _, tr

bp = Blueprint("grading", __name__)

GRADE_FILLS = {"A": "#1e7b3c", "B": "#2463b5", "C": "#8a6d00", "D": "#6b7280"}
CHART_WIDTH = 360
BAR_WIDTH = 280
ROW_HEIGHT = 50


class GradeForm(FlaskForm):
    """CSRF and the rationale; the per-indicator scores are read by key (``score-<key>``)."""

    rationale = TextAreaField()


def _rubric_rows(kind):
    dims = grading.dimensions_for(kind)
    weights = grading.effective_weights(kind)
    return [{"dimension": d, "label": tr(d.label),
             "indicators": [{"indicator": i, "label": tr(i.label), "measures": tr(i.measures),
                             "auto": tr(i.auto), "improve": tr(i.improve),
                             "points": f"{weights[i.key].normalize():f}"}
                            for i in grading.indicators_for(kind) if i.dimension == d.key]}
            for d in dims]


# --- the breakdown chart (used by the listing page) --------------------------------

@bp.app_template_global("grade_breakdown")
def grade_breakdown(listing):
    """What the listing page's breakdown needs: dimension bars (SVG geometry), indicator scores, rationale.

    None when the listing has never been graded.
    """
    if listing is None or not getattr(listing, "grade", None):
        return None
    latest = grading.latest_assessment(listing.id)
    if latest is None:
        return None
    fill = GRADE_FILLS.get(latest.grade, GRADE_FILLS["D"])
    rows = []
    for n, dim in enumerate(grading.dimensions_for(listing.kind)):
        value = float(latest.dimensions.get(dim.key, 0))
        top = n * ROW_HEIGHT
        rows.append({"key": dim.key, "label": tr(dim.label), "weight": dim.weight, "score": value,
                     "label_y": top + 17, "bar_y": top + 25, "bar_width": round(BAR_WIDTH * value / 100, 1),
                     "value_y": top + 39})
    indicators = [{"label": tr(i.label), "dimension": i.dimension, "score": latest.scores.get(i.key)}
                  for i in grading.indicators_for(listing.kind)]
    return {"grade": latest.grade, "score": latest.score, "fill": fill, "rows": rows, "indicators": indicators,
            "width": CHART_WIDTH, "bar_width": BAR_WIDTH, "height": ROW_HEIGHT * len(rows) + 4,
            "rationale": latest.rationale, "assessed_at": latest.created_at,
            "needs_review": bool(listing.grade_needs_review)}


# --- public rubric ---------------------------------------------------------------

@bp.get("/grades/rubric")
def rubric():
    kinds = [("patent", _("专利")), ("trademark", _("商标"))]
    thresholds = list(grading.GRADE_THRESHOLDS)
    return render_template("listings/rubric.html", kinds=[(k, label, _rubric_rows(k)) for k, label in kinds],
                           thresholds=thresholds)


# --- operators ---------------------------------------------------------------------

@bp.get("/operator/grading")
@operator_required
def queue():
    listings = grading.grading_queue()
    return render_template("operator/grading_queue.html", listings=listings,
                           can_grade={lst.id: grading.can_grade(current_user, lst) for lst in listings})


def _parse_score(raw):
    """A form value as a number when it is one; '' as missing; anything else is left for the service to refuse."""
    raw = (raw or "").strip()
    if raw == "":
        return None
    try:  # bounded: Decimal("1e999999999") parsed, and int() of it would not finish
        value = parse_decimal(raw)
    except NumberError:
        return raw
    return int(value) if value == value.to_integral_value() else float(value)


@bp.route("/operator/grading/<int:listing_id>", methods=["GET", "POST"])
@operator_required
def assess_form(listing_id):
    listing = grading.get_listing(listing_id)
    if not grading.can_grade(current_user, listing):
        raise PermissionDenied(_("不能为本单位的挂牌评级"))
    proposal = grading.propose(listing)
    form = GradeForm()
    values = {item["key"]: item["score"] for item in proposal}
    if request.method == "POST" and not form.validate_on_submit():  # the rationale is too long
        return _grading_page(listing, form, proposal, values, status=400)
    if request.method == "GET":
        return _grading_page(listing, form, proposal, values)
    submitted = {key: _parse_score(request.form.get(f"score-{key}")) for key in values}
    values = {key: ("" if v is None else v) for key, v in submitted.items()}
    scores = {key: v for key, v in submitted.items() if v is not None}

    def refused(exc):  # bad scores: beside each score; any other refusal is the error page
        if not isinstance(exc, ValidationError):
            raise exc
        return _grading_page(listing, form, proposal, values, errors=dict(exc.fields), status=422)

    def work():
        if request.form.get("action") == "preview":  # nothing is written
            dims, total = grading.compute(listing.kind, grading.validate_scores(listing.kind, scores))
            return _grading_page(listing, form, proposal, values, preview={
                "score": total, "grade": grading.score_to_grade(total), "dimensions": dims})
        row = grading.assess(listing.id, current_user, scores, form.rationale.data)
        flash(_("已为「%(title)s」评级：%(grade)s（%(score)s 分）", title=listing.title, grade=row.grade,
                score=row.score), "success")
        return redirect(url_for("grading.queue"))

    return act(work, refused, show=None)


def _grading_page(listing, form, proposal, values, errors=None, preview=None, status=200):
    dims = grading.dimensions_for(listing.kind)
    groups = [{"dimension": d, "label": tr(d.label),
               "items": [item for item in proposal if item["dimension"] == d.key]} for d in dims]
    weights = {i.key: i.weight for i in grading.indicators_for(listing.kind)}
    return render_template("operator/grading_form.html", listing=listing, form=form, groups=groups,
                           values=values, errors=errors or {}, preview=preview, weights=weights,
                           history=grading.history(listing.id)), status


@bp.get("/operator/grading/calibration")
@operator_required
def calibration():
    rows = grading.calibration()
    for row in rows:
        x = 0.0
        row["segments"] = []
        for letter in grading.GRADE_LETTERS:
            width = round(200 * row["share"][letter], 1)
            if width:
                row["segments"].append({"letter": letter, "x": x, "width": width, "fill": GRADE_FILLS[letter],
                                        "count": row["grades"][letter]})
            x += width
    return render_template("operator/grading_calibration.html", rows=rows, letters=grading.GRADE_LETTERS)
