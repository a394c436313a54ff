"""JSON shapes of deals and their ledger (docs/api.md "Deals"), with the schemas the API documents them by."""
from marshmallow import fields

from listings.models import DEPOSIT_STATUSES
from marketplace.kernel import schemas
from marketplace.kernel.timeutil import iso

from . import ledger
from .machine import ACTION_LABELS, STATE_LABELS
from .models import DEAL_STATES
from .timeline import DOCUMENT_KINDS, next_step


def _user(user):
    if user is None:
        return None
    return {"id": user.id, "name": user.name}


def document_json(doc):
    return {"id": doc.id, "kind": doc.kind, "label": DOCUMENT_KINDS.get(doc.kind, doc.kind),
            "file_type": doc.file_type, "size": doc.size, "original_name": doc.original_name,
            "created_at": iso(doc.created_at), "url": f"/api/v1/deals/{doc.deal_id}/documents/{doc.id}"}


def event_json(event, documents):
    doc = documents.get(event.document_id) if event.document_id else None
    return {"id": event.id, "action": event.action, "label": ACTION_LABELS.get(event.action, event.action),
            "from_state": event.from_state, "to_state": event.to_state,
            "actor": _user(event.actor), "note": event.note_text,
            "document": document_json(doc) if doc is not None else None, "created_at": iso(event.created_at)}


def deal_json(deal):
    """GET /deals/{id}: ``{"id", "state", "deal_type", "price", "fee", "currency", "events": […]}`` and more."""
    documents = {d.id: d for d in deal.documents}
    step = next_step(deal)
    license_terms = None
    if deal.deal_type != "assignment":
        license_terms = {"type": deal.deal_type, "territory": deal.license_territory, "field": deal.license_field,
                         "start": deal.license_start.isoformat() if deal.license_start else None,
                         "end": deal.license_end.isoformat() if deal.license_end else None}
    dispute = None
    if deal.dispute_reason:
        dispute = {"reason": deal.dispute_reason, "opened_by": _user(deal.disputed_by),
                   "from_state": deal.disputed_from, "resolution": deal.resolution}
    payout = None
    if deal.payout_status:
        payout = {"amount": deal.payout_amount, "status": deal.payout_status, "reference": deal.payout_reference,
                  "paid_at": iso(deal.payout_paid_at)}
    refund = None
    if deal.refund_status:
        refund = {"amount": deal.refund_amount, "status": deal.refund_status, "reference": deal.refund_reference}
    return {
        "id": deal.id,
        "state": deal.state,
        "state_label": STATE_LABELS[deal.state],
        "deal_type": deal.deal_type,
        "source": deal.source,
        "price": deal.price,
        "fee": deal.fee,
        "fee_bps": deal.fee_bps,  # fixed when the deal opened (escrow.fees)
        "currency": deal.currency,
        "deposit_credit": deal.deposit_credit or 0,  # a won auction's deposit counted towards the price
        "amount_due": deal.amount_due,
        "gateway": deal.gateway,
        "payment_reference": deal.payment_reference,
        "listing": {"id": deal.listing_id, "title": deal.listing.title if deal.listing is not None else None},
        "buyer": _user(deal.buyer),
        "seller": {"id": deal.seller_id, "name": deal.seller.name if deal.seller else None,
                   "organization": deal.organization.name if deal.organization else None},
        "created_at": iso(deal.created_at),
        "payment_due_at": iso(deal.payment_due_at),
        "funded_at": iso(deal.funded_at),
        "transfer_due_at": iso(deal.transfer_due_at),
        "filed_at": iso(deal.filed_at),
        "recorded_at": iso(deal.recorded_at),
        "inspection_ends_at": iso(deal.inspection_ends_at),
        "released_at": iso(deal.released_at),
        "closed_at": iso(deal.closed_at),
        "license": license_terms,
        "dispute": dispute,
        "payout": payout,
        "refund": refund,
        "flagged": deal.flagged,
        "next_step": {"actor": step.actor, "label": step.label, "deadline": iso(step.deadline)},
        "documents": [document_json(d) for d in deal.documents],
        "events": [event_json(e, documents) for e in deal.events],
    }


def entry_json(entry):
    return {"id": entry.id, "key": entry.idempotency_key, "kind": entry.kind, "memo": entry.memo_text,
            "reference": entry.reference, "created_at": iso(entry.created_at),
            "postings": [{"account": p.account.code, "account_name": p.account.name, "amount": p.amount,
                          "currency": p.currency} for p in entry.postings]}


def ledger_json(deal):
    """GET /deals/{id}/ledger: the deal's entries and its balances derived from their postings."""
    return {"deal_id": deal.id, "currency": deal.currency,
            "entries": [entry_json(e) for e in ledger.deal_entries(deal.id)],
            "balances": ledger.deal_balances(deal)}


# --- schemas (OpenAPI: marketplace.kernel.schemas) -----------------------------------------------

_n = schemas.nullable




class UserOut(schemas.Out):
    id = fields.Integer(required=True)
    name = fields.String(required=True)


class DocumentOut(schemas.Out):
    id = fields.Integer(required=True)
    kind = fields.String(required=True, validate=schemas.OneOf(list(DOCUMENT_KINDS)))
    label = fields.String()
    file_type = fields.String(required=True, validate=schemas.OneOf(["pdf", "png", "jpeg"]))
    size = fields.Integer(required=True)
    original_name = fields.String()
    created_at = _n(fields.DateTime)
    url = fields.String(required=True)


class EventOut(schemas.Out):
    id = fields.Integer(required=True)
    action = fields.String(required=True)
    label = fields.String()
    from_state = _n(fields.String)
    to_state = fields.String(required=True)
    actor = _n(fields.Nested, UserOut)
    note = _n(fields.String)
    document = _n(fields.Nested, DocumentOut)
    created_at = _n(fields.DateTime, required=True)


class _ListingRef(schemas.Out):
    id = fields.Integer()
    title = _n(fields.String)


class _SellerRef(schemas.Out):
    id = fields.Integer()
    name = _n(fields.String)
    organization = _n(fields.String)


class _LicenseTerms(schemas.Out):
    type = fields.String()
    territory = _n(fields.String)
    field = _n(fields.String)
    start = _n(fields.String)
    end = _n(fields.String)


class _Dispute(schemas.Out):
    reason = fields.String()
    opened_by = _n(fields.Nested, UserOut)
    from_state = _n(fields.String)
    resolution = _n(fields.String)


class _Payout(schemas.Out):
    amount = _n(fields.Integer)
    status = fields.String()
    reference = _n(fields.String)
    paid_at = _n(fields.DateTime)


class _Refund(schemas.Out):
    amount = _n(fields.Integer)
    status = fields.String()
    reference = _n(fields.String)


class _NextStep(schemas.Out):
    actor = _n(fields.String, validate=schemas.OneOf(["buyer", "seller", "operator", "system"]))
    label = fields.String()
    deadline = _n(fields.DateTime)


class DealOut(schemas.Out):
    id = fields.Integer(required=True)
    state = fields.String(required=True, validate=schemas.OneOf(list(DEAL_STATES)))
    state_label = fields.String()
    deal_type = fields.String(required=True)
    source = fields.String()
    price = fields.Integer(required=True)
    fee = fields.Integer(required=True)
    fee_bps = fields.Integer(metadata={"description": "platform fee rate (basis points) fixed when the deal opened"})
    currency = fields.String(required=True)
    deposit_credit = fields.Integer(metadata={"description": "a won auction's deposit (保证金, fen) counted towards "
                                                             "the price; 0 for other deals"})
    amount_due = fields.Integer(metadata={"description": "what the buyer pays in: price − deposit_credit"})
    gateway = fields.String()
    payment_reference = _n(fields.String)
    listing = fields.Nested(_ListingRef)
    buyer = _n(fields.Nested, UserOut)
    seller = fields.Nested(_SellerRef)
    created_at = _n(fields.DateTime)
    payment_due_at = _n(fields.DateTime)
    funded_at = _n(fields.DateTime)
    transfer_due_at = _n(fields.DateTime)
    filed_at = _n(fields.DateTime)
    recorded_at = _n(fields.DateTime)
    inspection_ends_at = _n(fields.DateTime)
    released_at = _n(fields.DateTime)
    closed_at = _n(fields.DateTime)
    license = _n(fields.Nested, _LicenseTerms)
    dispute = _n(fields.Nested, _Dispute)
    payout = _n(fields.Nested, _Payout)
    refund = _n(fields.Nested, _Refund)
    flagged = _n(fields.String)
    next_step = fields.Nested(_NextStep)
    documents = fields.List(fields.Nested(DocumentOut))
    events = fields.List(fields.Nested(EventOut), required=True)


class DealAnswer(schemas.Out):
    deal = fields.Nested(DealOut, required=True)


class DealList(schemas.Out):
    deals = fields.List(fields.Nested(DealOut), required=True)


class ConfirmedAnswer(DealAnswer):
    result = fields.String(validate=schemas.OneOf(["funded", "ignored"]))


class _Balances(schemas.Out):
    escrow = fields.Integer(required=True)
    seller_payable = fields.Integer(required=True)
    platform_fee = fields.Integer(required=True)
    refunded = fields.Integer(required=True)
    refund_in_transit = fields.Integer()
    paid_out = fields.Integer()
    received = fields.Integer()
    fee_by_voucher = fields.Integer()


class _Posting(schemas.Out):
    account = fields.String(required=True)
    account_name = fields.String()
    amount = fields.Integer(required=True)
    currency = fields.String(required=True)


class _Entry(schemas.Out):
    id = fields.Integer(required=True)
    key = fields.String(required=True)
    kind = fields.String(required=True)
    memo = fields.String()
    reference = _n(fields.String)
    created_at = _n(fields.DateTime)
    postings = fields.List(fields.Nested(_Posting), required=True)


class LedgerAnswer(schemas.Out):
    deal_id = fields.Integer()
    currency = fields.String()
    entries = fields.List(fields.Nested(_Entry), required=True)
    balances = fields.Nested(_Balances, required=True)


class _Bank(schemas.Out):
    account_name = fields.String()
    bank = fields.String()
    account_number = fields.String()


class PayAnswer(schemas.Out):
    """``POST /deals/{id}/pay``: offline bank details and reference, or a Stripe PaymentIntent."""

    gateway = fields.String(required=True)
    reference = fields.String()
    amount = fields.Integer()
    currency = fields.String()
    bank = fields.Nested(_Bank)
    due_at = _n(fields.String)
    instructions = fields.String()
    payment_intent_id = fields.String()
    client_secret = fields.String()


# the same shapes as OpenAPI dicts, for the routes still described by hand-written dicts
DEAL_RESPONSE = schemas.json_schema(DealAnswer)


# --- payout accounts and bank refunds (escrow.payouts.serialize, escrow.refunds.serialize) -----------------

class PayoutAccountOut(schemas.Out):
    id = fields.Integer(required=True)
    bank = fields.String()
    branch = fields.String()
    account_number = fields.String(metadata={"description": "masked to the last 4 digits except for operators"})
    account_name = fields.String()
    status = fields.String(validate=schemas.OneOf(["pending", "verified", "rejected"]))
    method = _n(fields.String, validate=schemas.OneOf(["operator", "micro_deposit"]))
    micro_deposit_sent = fields.Boolean()
    micro_attempts_left = fields.Integer()
    hold_until = _n(fields.DateTime)
    verified_at = _n(fields.DateTime)
    note = _n(fields.String)


class PayoutAccountAnswer(schemas.Out):
    account = _n(fields.Nested, PayoutAccountOut, required=True)


class PayoutAccountsAnswer(schemas.Out):
    accounts = fields.List(fields.Nested(PayoutAccountOut))


class _RefundAccount(schemas.Out):
    bank = fields.String()
    branch = fields.String()
    account_name = fields.String()
    account_number = fields.String(metadata={"description": "masked to the last 4 digits except for operators"})


class RefundOut(schemas.Out):
    deal_id = _n(fields.Integer)
    deposit_id = _n(fields.Integer)
    amount = fields.Integer()
    currency = fields.String()
    reason = fields.String()
    part = fields.String(validate=schemas.OneOf(["deal", "deposit"]))
    status = fields.String(validate=schemas.OneOf(["awaiting_account", "ready", "paid"]))
    account = _n(fields.Nested, _RefundAccount)
    bank_reference = _n(fields.String)


class RefundAnswer(schemas.Out):
    refund = _n(fields.Nested, RefundOut)


class RefundsAnswer(schemas.Out):
    refunds = fields.List(fields.Nested(RefundOut))


class FeeQuote(schemas.Out):
    price = fields.Integer(required=True, metadata={"description": "fen the buyer pays"})
    fee_bps = fields.Integer(required=True, metadata={
        "description": "platform fee rate in basis points, fixed when a deal opens"})
    fee = fields.Integer(required=True, metadata={"description": "platform fee in fen, paid by the seller"})
    seller_net = fields.Integer(required=True, metadata={"description": "fen the seller receives: price - fee"})


# --- auction deposits (escrow.deposit_views) ---------------------------------------------------------------

class DepositOut(schemas.Out):
    id = fields.Integer(required=True)
    auction_id = fields.Integer(required=True)
    listing_id = fields.Integer(required=True)
    amount = fields.Integer(required=True, metadata={"description": "fen"})
    currency = fields.String(required=True)
    status = fields.String(required=True, validate=schemas.OneOf(list(DEPOSIT_STATUSES)))
    gateway = fields.String(required=True)
    payment_reference = _n(fields.String, required=True)
    paid_at = _n(fields.DateTime)
    deal_id = _n(fields.Integer)


class DepositAnswer(schemas.Out):
    deposit = fields.Nested(DepositOut, required=True)


class DepositPayment(PayAnswer):
    """How to pay the deposit: the deal's payment answer (bank details and reference, or a PaymentIntent)."""

    deposit_id = fields.Integer(required=True)


class DepositStarted(DepositAnswer):
    payment = fields.Nested(DepositPayment, required=True)

