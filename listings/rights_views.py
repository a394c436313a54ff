"""The rights register in public: a page and a JSON view per right, and the listing documents it asks for.

``/rights/<kind>/<number>`` and ``GET /api/v1/rights/{kind}/{number}`` show the same
facts (``register_json``): holders, status and fee dates, pledge yes/no, licences in
force (type, territory, term), the on-platform history (dates and what happened; no
prices) and the right's public listings. Pledgees' and licensees' names are shown only
where the register holds them from a recorded deal or an operator, as CNIPA publishes
recorded pledges and licences.
"""
from flask import Blueprint, abort, jsonify, request
from flask_login import current_user

from marketplace.kernel import labels
from marketplace.kernel.apiutil import API_PREFIX, commit_after, doc, form_body, require_user, token_user
from marketplace.kernel.pagecache import cached_page
from marketplace.kernel.timeutil import local, utcnow

from . import register, service
from . import register_schemas as sc
from . import schemas as lsc
from .lifecycle import can_view
from .serializers import listing_json

bp = Blueprint("rights", __name__)
api = Blueprint("rights_api", __name__, url_prefix=API_PREFIX)

# History entries shown to the public: what changed, never who paid what.
PUBLIC_ACTIONS = {
    "registered": "登记", "migrated": "登记", "declared": "权利人更新信息", "assigned": "转让（平台交易）",
    "reassigned_back": "回转登记", "licensed": "许可（平台交易）", "licence_reversed": "许可回转",
    "pledge_declared": "声明质押", "pledge_released": "质押解除", "pledge_entered": "质押登记",
    "pledge_ended": "质押解除", "licence_declared": "声明在先许可", "licence_entered": "许可备案",
    "licence_ended": "许可终止", "corrected": "运营更正", "holders_corrected": "运营更正权利人",
    "claim_upheld": "权属异议成立", "claim_dismissed": "权属异议驳回", "claimed": "权属异议",
}
LICENCE_LABELS = labels.LICENCE_TYPE
SOURCE_LABELS = {"seller": "卖方声明", "operator": "运营核实", "deal": "平台交易", "system": "系统",
                 "migration": "数据迁移"}


def register_json(right, viewer=None):
    today = local(utcnow()).date()
    due = right.next_fee_due()
    ends = right.term_end()
    return {
        "kind": right.kind,
        "number": right.number,
        "madrid": bool(right.madrid),
        "title": right.title,
        "holders": [{"type": h.holder_type, "name": h.name,
                     **({"id_type": h.id_type, "id_number_masked": h.id_number_masked}
                        if h.holder_type == "person" else {})} for h in right.holders],
        "status": right.legal_status if right.kind == "patent" else right.tm_status,
        "term_ends": ends.isoformat() if ends else None,
        "next_fee": {"what": due[0], "due": due[1].isoformat(), "grace_ends": due[2].isoformat()} if due else None,
        "pledged": bool(right.encumbrances_in_force("pledge", today)),
        "licences": [{"type": e.licence_type, "territory": e.territory or "中国大陆", "field": e.field or "不限",
                      "starts_on": e.starts_on.isoformat() if e.starts_on else None,
                      "ends_on": e.ends_on.isoformat() if e.ends_on else None,
                      "source": e.source, "recordal_number": e.registration_number}
                     for e in right.licences_in_force(today)],
        "verified": right.verified_at is not None,
        "history": [{"at": e.created_at.isoformat(), "action": e.action, "source": e.source,
                     **({"deal_id": e.deal_id} if e.deal_id else {})}
                    for e in right.events if e.action in PUBLIC_ACTIONS],
        "listings": [{"id": lst.id, "title": lst.title, "status": lst.status, "deal_types": lst.deal_types}
                     for lst in right.listings if can_view(viewer, lst)],
    }


def _viewer():
    return current_user if current_user.is_authenticated else None


@bp.get("/rights/<kind>/<path:number>")
@cached_page()
def detail(kind, number):
    if kind not in register.KIND_PATHS or len(number) > 60:
        abort(404)
    right = register.find(kind, number, register.page_options())
    if right is None:
        abort(404)
    from .register_views import render_right  # operators' correction panel, sellers' claim box

    return render_right(right)


@api.get("/rights/<kind>/<path:number>")
@doc("A right in the register: holders (权利人), status and fee dates, pledge yes/no, licences in force, "
     "on-platform history (no prices) and its listings. ``number`` in any accepted spelling", auth=False,
     tags=["rights"], responses={"200": sc.RightAnswer, "404": None})
def show(kind, number):
    if kind not in register.KIND_PATHS or len(number) > 60:
        abort(404)
    right = register.get(kind, number, register.page_options())
    viewer = token_user() or _viewer()  # the wizard asks with its session while the seller types
    body = {"right": register_json(right, viewer), "listing_input": register._plain(service.right_input(right))}
    if viewer is not None and viewer.has_role("seller"):
        body["viewer"] = register.for_viewer(right, viewer)
    return jsonify(body)


@api.post("/listings/<int:listing_id>/documents/<field>")
@doc("Upload a document the rule book asks for (multipart field `document`: PDF, PNG or JPEG): "
     "`authorization_doc` (the holders' 委托书), `co_owner_consent` or `pledge_consent`", tags=["listings"],
     content_type="multipart/form-data",
     request_schema=lsc.Upload,
     responses={"200": None, "403": None, "404": None, "409": None, "422": None})
@commit_after
def upload_document(listing_id, field):
    user = require_user()
    form_body()
    listing = service.attach_document(user, listing_id, field, request.files.get("document"))
    return jsonify({"listing": listing_json(listing, user), "warnings": service.warnings_for(listing)})


@api.post("/listings/<int:listing_id>/co-owner-consent")
@doc("A co-owner on the platform consents to this listing of a shared right (seller of the co-owning "
     "organisation)", tags=["listings"], responses={"200": sc.CoOwnerConsent, "403": None, "404": None})
@commit_after
def co_owner_consent(listing_id):
    user = require_user()
    listing = service.consent_as_co_owner(user, listing_id)
    return jsonify({"listing_id": listing.id, "consents": listing.co_owner_consents or []})
