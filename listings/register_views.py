"""Operators keep the rights register; sellers claim a right the register gives to another holder.

HTML (``register_ops``): on the right's page ``/rights/<kind>/<number>`` operators find a
correction panel (data, holders, pledges and licences, each with a required reason) and
sellers whose organisation is not a holder find "提出权属异议"; the conflicts queue is
``/operator/rights/claims``. JSON (``register_ops_api``): the same acts for API clients.
The acts are ``listings.register``'s services (audited, in the right's history); input is
read by ``listings.register_input``. Evidence files are served to operators only.
"""

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm

from marketplace.kernel.apiutil import API_PREFIX, commit_after, doc, form_body, json_body, require_user
from marketplace.kernel.errors import NotFound, ValidationError
from marketplace.kernel.extensions import db
from marketplace.kernel.timeutil import iso, local, utcnow
from marketplace.kernel.uploads import send_upload
from marketplace.kernel.viewutil import operator_required
from marketplace.kernel.webutil import act, show_error

from . import register
from . import register_input as cleaning
from . import register_schemas as sc
from .models import RightClaim
from .models.register import ID_TYPES

bp = Blueprint("register_ops", __name__)
api = Blueprint("register_ops_api", __name__, url_prefix=API_PREFIX)

FORMS = ("correct", "holders", "encumbrance", "end", "claim")


class CsrfForm(FlaskForm):
    """Only the CSRF token (the register forms are drawn by hand; ``prefix`` keeps them apart on one page)."""


def _right_or_404(kind, number):
    if kind not in register.KIND_PATHS or len(number) > 60:
        abort(404)
    right = register.find(kind, number)
    if right is None:
        abort(404)
    return right


# --- the right's page: what operators and claimants see ---------------------------------------

def can_claim(user, right):
    """A seller whose side (organisation, or themselves as a natural person) is not a holder may claim."""
    if user is None or not user.is_authenticated or not user.has_role("seller"):
        return False
    party = register.party_of(user)
    return not register.is_holder(right, party["organization_id"], party["user_id"])


ENCUMBRANCE_SOURCES = {"declared": "卖方声明", "platform": "平台交易", "operator": "运营核实"}


def _choices():
    from .vocab import LEGAL_STATUSES, PATENT_TYPE_LABELS, TM_STATUSES

    return {
        "legal_status": [(k, _(v)) for k, v in LEGAL_STATUSES.items()],
        "tm_status": [(k, _(v)) for k, v in TM_STATUSES.items()],
        "patent_type": [(k, _(v)) for k, v in PATENT_TYPE_LABELS.items()],
        "holder_type": list(cleaning.HOLDER_TYPE_LABELS.items()),
        "id_type": [(k, cleaning.ID_TYPE_LABELS[k]) for k in ID_TYPES],
        "encumbrance_kind": [("pledge", _("质押")), ("licence", _("许可"))],
        "licence_type": list(cleaning.LICENCE_TYPE_LABELS.items()),
    }


def page_context(right, failed=None, errors=None, values=None):
    """Template context of the right's page for the viewer: the operator panel, the claim box."""
    user = current_user if current_user.is_authenticated else None
    ctx = {"ops": None, "claim": None}
    if user is not None and user.is_operator:
        today = local(utcnow()).date()
        ctx["ops"] = {
            "fields": [(key, kind, cleaning.FIELD_LABELS[key], getattr(right, key))
                       for key, kind in cleaning.corrections_for(right.kind)],
            "encumbrances": [e for e in right.encumbrances if e.in_force(today)],
            "holder_rows": max(len(right.holders), 1) + 1,
            "forms": {name: CsrfForm(prefix=name, formdata=None) for name in FORMS},
            "claims": [c for c in register.open_claims() if c.right_id == right.id],
        }
    if can_claim(user, right):
        from sqlalchemy import select

        mine = db.session.scalar(select(RightClaim).where(RightClaim.right_id == right.id,
                                                          register.claims_of(user), RightClaim.status == "open"))
        ctx["claim"] = {"open": mine, "form": CsrfForm(prefix="claim", formdata=None)}
    ctx.update(failed=failed, form_errors=errors or {}, form_values=values or {},
               licence_type_labels=cleaning.LICENCE_TYPE_LABELS, source_labels_enc=ENCUMBRANCE_SOURCES,
               ops_choices=_choices() if ctx["ops"] else {})
    return ctx


def render_right(right, status=200, **failure):
    from .rights_views import LICENCE_LABELS, PUBLIC_ACTIONS, SOURCE_LABELS, register_json

    viewer = current_user if current_user.is_authenticated else None
    return render_template("listings/right.html", right=right, data=register_json(right, viewer),
                           actions=PUBLIC_ACTIONS, licence_labels=LICENCE_LABELS, source_labels=SOURCE_LABELS,
                           **page_context(right, **failure)), status


def _safe_values(form, prefix):
    """The submitted values to show again; never an ID number."""
    return {k: v for k, v in form.items() if k.startswith(prefix + "-") and not k.endswith("id_number")}


def _in_form(prefix, work, again, back, done=None, error_page=(404,)):
    """A hand-drawn form's act at the commit boundary (``webutil.act``): bad input → ``again(errors)``, each reason
    under its ``prefix``ed field name (the form's own under ``<prefix>form``); another refusal is flashed and
    goes ``back``; done → ``work``'s answer, ``done`` flashed."""

    def refused(exc):
        if not isinstance(exc, ValidationError):
            show_error(exc)
            return redirect(back)
        errors = {(k if k.startswith(prefix) else prefix + k): str(v) for k, v in exc.fields.items()}
        errors.setdefault(prefix + "form", exc.message)
        return again(errors)

    return act(work, refused, show=None, error_page=error_page, done=done)


def _act(right, name, fn, done_message):
    """Run one register act from a form named ``name``: the page again with errors (422), or back to it."""
    back = url_for("rights.detail", kind=right.kind, number=right.number)

    def work():
        fn()
        return redirect(back)

    return _in_form(f"{name}-", work, lambda errors: render_right(right, 422, failed=name, errors=errors,
                                                                  values=_safe_values(request.form, name)),
                    back, done_message, error_page=() if name == "end" else (403, 404))


def _reason(name):
    return request.form.get(f"{name}-reason", "")


@bp.post("/operator/rights/<kind>/<number>/correct")
@operator_required
def correct(kind, number):
    right = _right_or_404(kind, number)
    keys = [key for key, _kind in cleaning.corrections_for(right.kind)]
    raw = {key: request.form.get(f"correct-{key}", "") for key in keys if f"correct-{key}" in request.form}

    def act():
        register.correct(current_user, right, cleaning.clean_changes(right, raw, only_changed=True), _reason("correct"))

    return _act(right, "correct", act, _("登记信息已更正"))


@bp.post("/operator/rights/<kind>/<number>/holders")
@operator_required
def holders(kind, number):
    right = _right_or_404(kind, number)
    rows = []
    for i in range(cleaning.MAX_HOLDERS + 1):
        prefix = f"holders-{i}-"
        if prefix + "type" not in request.form:
            continue
        rows.append({"index": i, **{k: request.form.get(prefix + k, "")
                                    for k in ("type", "name", "uscc", "id_type", "id_number", "id_number_masked",
                                              "account")}})

    def act():
        reason = _reason("holders")
        register._reason(reason)  # an empty reason is refused before the holders are read
        register.correct_holders(current_user, right, cleaning.clean_holders(rows), reason)

    return _act(right, "holders", act, _("权利人已更正"))


@bp.post("/operator/rights/<kind>/<number>/encumbrances")
@operator_required
def add_encumbrance(kind, number):
    right = _right_or_404(kind, number)
    raw = {k: request.form.get(f"encumbrance-{k}", "") for k in (
        "kind", "party_name", "registration_number", "licence_type", "territory", "field", "starts_on", "ends_on")}

    def act():
        reason = _reason("encumbrance")
        register._reason(reason)
        register.add_encumbrance(current_user, right, cleaning.clean_encumbrance(raw), reason)

    return _act(right, "encumbrance", act, _("质押或许可已登记"))


@bp.post("/operator/rights/<kind>/<number>/encumbrances/<int:encumbrance_id>/end")
@operator_required
def end_encumbrance(kind, number, encumbrance_id):
    right = _right_or_404(kind, number)
    return _act(right, "end", lambda: register.end_encumbrance(current_user, right, encumbrance_id, _reason("end")),
                _("质押或许可已终止"))


@bp.post("/rights/<kind>/<number>/claims")
def file_claim(kind, number):
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login", next=request.path))
    right = _right_or_404(kind, number)
    if not current_user.has_role("seller"):
        abort(403)
    back = url_for("rights.detail", kind=right.kind, number=right.number)

    def work():
        claim = register.file_claim(current_user, right, request.files.get("claim-evidence"),
                                    request.form.get("claim-note", ""))
        flash(_("权属异议 #%(id)s 已提交，平台运营处理后会通知您", id=claim.id), "success")
        return redirect(back)

    return _in_form("claim-", work, lambda errors: render_right(right, 422, failed="claim", errors=errors,
                                                                values=_safe_values(request.form, "claim")), back)


# --- the conflicts queue ----------------------------------------------------------------------

@bp.get("/operator/rights/claims")
@operator_required
def claims_queue(failed=None, errors=None, values=None):
    return render_template("operator/rights_claims.html", claims=register.open_claims(),
                           form=CsrfForm(prefix="decide", formdata=None), failed=failed,
                           form_errors=errors or {}, form_values=values or {}, kinds=register.KIND_PATHS)


@bp.get("/operator/rights/lookup")
@operator_required
def lookup():
    kind = request.args.get("kind", "patent")
    number = (request.args.get("number") or "").strip()[:60]
    right = register.find(kind, number) if kind in register.KIND_PATHS and number else None
    if right is None:
        flash(_("登记簿中没有该权利") if number else _("请输入申请号或注册号"), "error")
        return redirect(url_for("register_ops.claims_queue"))
    return redirect(url_for("rights.detail", kind=right.kind, number=right.number))


def _claim_evidence(claim_id):
    claim = db.session.get(RightClaim, claim_id)
    if claim is None:
        raise NotFound(_("文件不存在"))
    return send_upload(claim.evidence, f"claim-{claim.id}-evidence")


@bp.get("/operator/rights/claims/<int:claim_id>/evidence")
@operator_required
def claim_evidence(claim_id):
    return _claim_evidence(claim_id)


@bp.post("/operator/rights/claims/<int:claim_id>/decision")
@operator_required
def decide(claim_id):
    prefix = f"decide-{claim_id}-"
    back = url_for("register_ops.claims_queue")

    def work():
        claim = register.decide_claim(current_user, claim_id, request.form.get(prefix + "decision", ""),
                                      request.form.get(prefix + "reason", ""))
        flash(_("异议 #%(id)s 已支持，权利人已变更", id=claim.id) if claim.status == "upheld"
              else _("异议 #%(id)s 已驳回", id=claim.id), "success")
        return redirect(back)

    values = {k: v for k, v in request.form.items() if k.startswith(prefix)}
    return _in_form(prefix, work, lambda errors: (claims_queue(failed=claim_id, errors=errors, values=values), 422),
                    back)


# --- JSON -------------------------------------------------------------------------------------

def claim_json(claim):
    right = claim.right
    return {
        "id": claim.id,
        "status": claim.status,
        "right": {"kind": right.kind, "number": right.number, "title": right.title,
                  "url": url_for("rights.detail", kind=right.kind, number=right.number)},
        "holders": right.holder_names,
        "claimant": {"organization_id": claim.organization_id, "name": claim.claimant_name,
                     "user_id": claim.claimant_id},
        "note": claim.note,
        "evidence_url": url_for("register_ops_api.api_claim_evidence", claim_id=claim.id) if claim.evidence else None,
        "created_at": iso(claim.created_at),
        "decided_at": iso(claim.decided_at) if claim.decided_at else None,
        "decision_reason": claim.decision_reason,
    }


_CLAIM = sc.ClaimAnswer  # (the multipart claim route names it)


def _api_right(kind, number):
    if kind not in register.KIND_PATHS or len(number) > 60:
        raise NotFound(_("登记簿中没有该权利"))
    return register.get(kind, number)


@api.post("/rights/<kind>/<number>/claims")
@doc("Claim a right the register gives to another holder (seller; multipart: `evidence` PDF/PNG/JPEG, `note`). "
     "The claim waits in the operators' conflicts queue", tags=["rights"], content_type="multipart/form-data",
     request_schema=sc.ClaimUpload,
     responses={"201": _CLAIM, "401": None, "403": None, "404": None, "409": None, "422": None})
@commit_after
def api_file_claim(kind, number):
    user = require_user("seller")
    right = _api_right(kind, number)
    form = form_body()
    claim = register.file_claim(user, right, request.files.get("evidence"), form.get("note", ""))
    return jsonify({"claim": claim_json(claim)}), 201


@api.get("/operator/rights/claims")
@doc("Open ownership claims, oldest first (operators)", tags=["rights", "operator"],
     responses={"200": sc.Claims, "401": None, "403": None})
def api_claims():
    require_user("operator")
    return jsonify({"claims": [claim_json(c) for c in register.open_claims()]})


@api.get("/operator/rights/claims/<int:claim_id>/evidence")
@doc("The evidence file of a claim (operators)", tags=["rights", "operator"],
     responses={"200": None, "401": None, "403": None, "404": None})
def api_claim_evidence(claim_id):
    require_user("operator")
    return _claim_evidence(claim_id)


@api.post("/operator/rights/claims/<int:claim_id>/decision")
@doc("Decide an open claim (operators): `uphold` makes the claimant the holder and takes the old holder's "
     "listings of the right off the market; `dismiss` leaves the register as it is. `reason` is required",
     tags=["rights", "operator"],
     request_schema=sc.Decision, responses={"200": sc.ClaimAnswer, "401": None, "403": None, "404": None, "409": None, "422": None})
@commit_after
def api_decide(claim_id):
    user = require_user("operator")
    body = json_body()
    claim = register.decide_claim(user, claim_id, body.get("decision"), body.get("reason"))
    return jsonify({"claim": claim_json(claim)})


@api.patch("/operator/rights/<kind>/<number>")
@doc("Correct a register entry's data from CNIPA's record (operators): `changes` maps fields to new values "
     "(patents: title, patent_type, legal_status, filing_date, grant_date, annuity_paid_until, claims_count, "
     "abstract; trademarks: title, tm_status, registration_date, disputes); `reason` is required",
     tags=["rights", "operator"],
     request_schema=sc.Correction,
     responses={"200": sc.Corrected, "401": None, "403": None, "404": None, "422": None})
@commit_after
def api_correct(kind, number):
    from .rights_views import register_json

    user = require_user("operator")
    right = _api_right(kind, number)
    body = json_body()
    register._reason(body.get("reason"))
    register.correct(user, right, cleaning.clean_changes(right, body.get("changes")), body.get("reason"))
    return jsonify({"right": register_json(right, user)})

