"""HTML pages of the deal's paperwork (issue 15): the contract to review, sign and download, the
recordal check (the seller's details, the buyer's joint-filing confirmation, the operators' queue),
invoices and the tax page with the 技术合同登记 data.

Thin, like ``escrow.views``: each POST calls one service, commits once and redirects; a refusal
re-renders the page it came from with the reason beside the form (422 / 403 / 409), nothing changed.
"""
from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from marketplace.kernel.extensions import db, limiter
from marketplace.kernel.viewutil import operator_required
from marketplace.kernel.webutil import act, committed

from . import contracts, deals, invoices, machine, recordal
from .models import Deal

bp = Blueprint("escrow_paper", __name__)


def _sign_limit():
    return current_app.config["RATELIMIT_LOGIN"]


def contract_page(deal, errors=None, status=200):
    contract = contracts.contract_of(deal)
    roles = deals.roles_of(deal, current_user)
    signed = contracts.signed_roles(deal)
    my_role = "buyer" if "buyer" in roles else "seller" if "seller" in roles else None
    may_sign = (my_role is not None and my_role not in signed
                and machine.allowed(deal.state, "sign_contract", {my_role}) is not None)
    return render_template("escrow/contract.html", deal=deal, contract=contract, roles=roles, may_sign=may_sign,
                           signatures=contract.signatures, fully_signed=signed >= set(contracts.SIGNING_ROLES),
                           errors=errors or {}, state_labels=machine.STATE_LABELS), status


def _again(page):
    """A refusal's answer: ``page`` again, the fields the refusal names beside their inputs (webutil.act)."""
    return lambda exc, deal_id: page(db.session.get(Deal, deal_id), exc.fields, exc.status)


def _deal_page(deal, fields=None, status=200):
    from .views import _render

    return _render(deal, status=status)


def _tax_page(deal, fields=None, status=200):
    return tax_page_for(deal, fields, status)


def _run(deal_id, call, done, page=_deal_page, back=None):
    deals.get_deal_for(deal_id, current_user)
    if request.form.get("next") == "recordals":
        back = url_for("escrow_paper.recordal_queue")

    def work():
        call()
        return redirect(back or url_for("escrow.deal_detail", deal_id=deal_id))

    return act(work, lambda exc: _again(page)(exc, deal_id), show="message", done=done)


# --- the contract --------------------------------------------------------------------------

@bp.get("/deals/<int:deal_id>/contract")
@login_required
@committed()
def contract(deal_id):
    # a deal opened before contracts existed has its contract generated here
    return contract_page(deals.get_deal_for(deal_id, current_user))


@bp.post("/deals/<int:deal_id>/contract/sign")
@limiter.limit(_sign_limit)
@login_required
@committed(_again(contract_page), show="message")
def contract_sign(deal_id):
    deals.get_deal_for(deal_id, current_user)
    contracts.sign(deal_id, current_user, request.form.get("password"), contracts.ip_of(request))
    flash(_("已签署合同"), "success")
    return redirect(url_for("escrow_paper.contract", deal_id=deal_id))


@bp.get("/deals/<int:deal_id>/contract.pdf")
@login_required
@committed()
def contract_pdf(deal_id):
    deal = deals.get_deal_for(deal_id, current_user)
    body = contracts.pdf(deal)
    return Response(body, mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="deal-{deal.id}-contract.pdf"'})


# --- recordal ------------------------------------------------------------------------------

@bp.post("/deals/<int:deal_id>/confirm-filing")
@login_required
def confirm_filing(deal_id):
    return _run(deal_id, lambda: recordal.confirm_filing(deal_id, current_user), _("已确认共同提交转让申请"))


@bp.post("/deals/<int:deal_id>/recordal/verify")
@login_required
def recordal_verify(deal_id):
    return _run(deal_id, lambda: recordal.verify(deal_id, current_user, note=request.form.get("note")),
                _("登记信息已核对，买方验收期开始"))


@bp.post("/deals/<int:deal_id>/recordal/reject")
@login_required
def recordal_reject(deal_id):
    return _run(deal_id, lambda: recordal.reject(deal_id, current_user, request.form.get("reason")),
                _("登记信息已退回卖方"))


@bp.get("/operator/recordals")
@login_required
@operator_required
def recordal_queue():
    """Recordal details waiting for an operator's check, oldest first."""
    rows = db.session.execute(select(Deal).where(Deal.state == "recordal_submitted")
                              .order_by(Deal.updated_at, Deal.id)).scalars().all()
    items = [(deal, recordal.latest(deal)) for deal in rows if deals.roles_of(deal, current_user) == {"operator"}]
    return render_template("escrow/queue_recordals.html", items=items, describe=recordal.describe)


# --- invoices and tax --------------------------------------------------------------------------

def tax_page_for(deal, errors=None, status=200):
    roles = deals.roles_of(deal, current_user)
    contract = contracts.contract_of(deal)
    rows = invoices.invoices_of(deal)
    requestable = [issuer for issuer in invoices.ISSUERS
                   if invoices.requester_role(issuer) in roles and invoices.can_request(deal, issuer)
                   and all(r.issuer != issuer for r in rows)]
    issuable = [r for r in rows if r.status == "requested"
                and (("seller" in roles) if r.issuer == "seller" else ("operator" in roles))]
    patent = deal.listing.kind == "patent"
    return render_template(
        "escrow/tax.html", deal=deal, roles=roles, contract=contract, notes=invoices.tax_notes(deal),
        invoices=rows, requestable=requestable, issuable=issuable, errors=errors or {},
        types=invoices.TYPES, issuer_labels=invoices.ISSUER_LABELS, status_labels=invoices.STATUS_LABELS,
        tech_rows=invoices.tech_contract_data(deal) if patent else None,
        may_register=patent and bool(roles & {"seller", "operator"}) and not contract.tech_registration_number
        and contracts.fully_signed(deal),
        default_title=(current_user.organization.name if current_user.organization else current_user.name),
        default_taxpayer=(current_user.organization.uscc if current_user.organization else ""),
    ), status


@bp.get("/deals/<int:deal_id>/tax")
@login_required
@committed()
def tax_page(deal_id):
    return tax_page_for(deals.get_deal_for(deal_id, current_user))


@bp.get("/deals/<int:deal_id>/tech-contract.csv")
@login_required
@committed(_again(_tax_page), show="message")
def tech_contract_csv(deal_id):
    deal = deals.get_deal_for(deal_id, current_user)
    body = invoices.tech_contract_csv(deal)
    return Response(body, mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="deal-{deal.id}-tech-contract.csv"'})


@bp.post("/deals/<int:deal_id>/tech-contract")
@login_required
def tech_contract(deal_id):
    back = url_for("escrow_paper.tax_page", deal_id=deal_id)
    return _run(deal_id, lambda: invoices.record_tech_registration(deal_id, current_user,
                                                                   request.form.get("registration_number")),
                _("技术合同登记编号已登记"), page=_tax_page, back=back)


@bp.post("/deals/<int:deal_id>/invoices")
@login_required
def invoice_request(deal_id):
    form = request.form
    back = url_for("escrow_paper.tax_page", deal_id=deal_id)
    return _run(deal_id, lambda: invoices.request_invoice(deal_id, current_user, form.get("issuer"), form.get("title"),
                                                          form.get("taxpayer_id"), form.get("invoice_type"),
                                                          details={key: form.get(key) for key in invoices.SPECIAL_FIELDS}),
                _("开票申请已提交"), page=_tax_page, back=back)


@bp.post("/deals/<int:deal_id>/invoices/<issuer>/issued")
@login_required
def invoice_issued(deal_id, issuer):
    back = url_for("escrow_paper.tax_page", deal_id=deal_id)
    return _run(deal_id, lambda: invoices.issue_invoice(deal_id, current_user, issuer,
                                                        request.form.get("invoice_number")),
                _("发票号码已登记"), page=_tax_page, back=back)


def paperwork(deal, roles, signed):
    """What the deal page shows of the paperwork (``templates/escrow/_paperwork.html``); ``signed``: the roles
    that have signed the contract, as the page read them (``contracts.signed_roles``)."""
    latest = recordal.latest(deal)
    return {
        "signed": signed, "fully_signed": signed >= set(contracts.SIGNING_ROLES),
        "must_sign": bool(roles & set(contracts.SIGNING_ROLES) - signed) and deal.state == "awaiting_payment",
        "recordal": latest, "recordal_text": recordal.describe(latest) if latest else None,
        "joint_filing": recordal.needs_joint_filing(deal), "filing_confirmed": recordal.filing_confirmed(deal),
        "may_confirm_filing": machine.allowed(deal.state, "confirm_filing", roles) is not None
        and recordal.needs_joint_filing(deal) and not recordal.filing_confirmed(deal),
        "may_verify": machine.allowed(deal.state, "verify_recordal", roles) is not None,
    }
