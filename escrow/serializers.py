"""JSON shapes of deals and their ledger (docs/api.md "Deals"), with the JSON schemas the API documents."""
from marketplace.timeutil import iso

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


# --- schemas (OpenAPI) --------------------------------------------------------------

_STR_OR_NULL = {"type": "string", "nullable": True}
_TIME = {"type": "string", "format": "date-time", "nullable": True}
_INT_OR_NULL = {"type": "integer", "nullable": True}
_USER = {"type": "object", "nullable": True, "required": ["id", "name"],
         "properties": {"id": {"type": "integer"}, "name": {"type": "string"}}}
DOCUMENT_SCHEMA = {
    "type": "object", "required": ["id", "kind", "file_type", "size", "url"],
    "properties": {"id": {"type": "integer"}, "kind": {"type": "string", "enum": list(DOCUMENT_KINDS)},
                   "label": {"type": "string"}, "file_type": {"type": "string", "enum": ["pdf", "png", "jpeg"]},
                   "size": {"type": "integer"}, "original_name": {"type": "string"}, "created_at": _TIME,
                   "url": {"type": "string"}},
}
EVENT_SCHEMA = {
    "type": "object", "required": ["id", "action", "to_state", "created_at"],
    "properties": {"id": {"type": "integer"}, "action": {"type": "string"}, "label": {"type": "string"},
                   "from_state": _STR_OR_NULL, "to_state": {"type": "string"}, "actor": _USER,
                   "note": _STR_OR_NULL, "document": {**DOCUMENT_SCHEMA, "nullable": True}, "created_at": _TIME},
}
DEAL_SCHEMA = {
    "type": "object",
    "required": ["id", "state", "deal_type", "price", "fee", "currency", "events"],
    "properties": {
        "id": {"type": "integer"},
        "state": {"type": "string", "enum": list(DEAL_STATES)},
        "state_label": {"type": "string"},
        "deal_type": {"type": "string"},
        "source": {"type": "string"},
        "price": {"type": "integer"},
        "fee": {"type": "integer"},
        "fee_bps": {"type": "integer", "description": "platform fee rate (basis points) fixed when the deal opened"},
        "currency": {"type": "string"},
        "deposit_credit": {"type": "integer", "description": "a won auction's deposit (保证金, fen) counted "
                                                             "towards the price; 0 for other deals"},
        "amount_due": {"type": "integer", "description": "what the buyer pays in: price − deposit_credit"},
        "gateway": {"type": "string"},
        "payment_reference": _STR_OR_NULL,
        "listing": {"type": "object", "properties": {"id": {"type": "integer"}, "title": _STR_OR_NULL}},
        "buyer": _USER,
        "seller": {"type": "object", "properties": {"id": {"type": "integer"}, "name": _STR_OR_NULL,
                                                    "organization": _STR_OR_NULL}},
        "created_at": _TIME, "payment_due_at": _TIME, "funded_at": _TIME, "transfer_due_at": _TIME,
        "filed_at": _TIME, "recorded_at": _TIME, "inspection_ends_at": _TIME, "released_at": _TIME,
        "closed_at": _TIME,
        "license": {"type": "object", "nullable": True, "properties": {
            "type": {"type": "string"}, "territory": _STR_OR_NULL, "field": _STR_OR_NULL,
            "start": _STR_OR_NULL, "end": _STR_OR_NULL}},
        "dispute": {"type": "object", "nullable": True, "properties": {
            "reason": {"type": "string"}, "opened_by": _USER, "from_state": _STR_OR_NULL,
            "resolution": _STR_OR_NULL}},
        "payout": {"type": "object", "nullable": True, "properties": {
            "amount": _INT_OR_NULL, "status": {"type": "string"}, "reference": _STR_OR_NULL, "paid_at": _TIME}},
        "refund": {"type": "object", "nullable": True, "properties": {
            "amount": _INT_OR_NULL, "status": {"type": "string"}, "reference": _STR_OR_NULL}},
        "flagged": _STR_OR_NULL,
        "next_step": {"type": "object", "properties": {
            "actor": {"type": "string", "nullable": True, "enum": ["buyer", "seller", "operator", "system", None]},
            "label": {"type": "string"}, "deadline": _TIME}},
        "documents": {"type": "array", "items": DOCUMENT_SCHEMA},
        "events": {"type": "array", "items": EVENT_SCHEMA},
    },
}
DEAL_RESPONSE = {"type": "object", "required": ["deal"], "properties": {"deal": DEAL_SCHEMA}}
BALANCES_SCHEMA = {
    "type": "object", "required": ["escrow", "seller_payable", "platform_fee", "refunded"],
    "properties": {k: {"type": "integer"} for k in
                   ("escrow", "seller_payable", "platform_fee", "refunded", "refund_in_transit", "paid_out",
                    "received", "fee_by_voucher")},
}
LEDGER_RESPONSE = {
    "type": "object", "required": ["entries", "balances"],
    "properties": {
        "deal_id": {"type": "integer"}, "currency": {"type": "string"},
        "entries": {"type": "array", "items": {
            "type": "object", "required": ["id", "key", "kind", "postings"],
            "properties": {"id": {"type": "integer"}, "key": {"type": "string"}, "kind": {"type": "string"},
                           "memo": {"type": "string"}, "reference": _STR_OR_NULL, "created_at": _TIME,
                           "postings": {"type": "array", "items": {
                               "type": "object", "required": ["account", "amount", "currency"],
                               "properties": {"account": {"type": "string"}, "account_name": {"type": "string"},
                                              "amount": {"type": "integer"}, "currency": {"type": "string"}}}}}}},
        "balances": BALANCES_SCHEMA,
    },
}
