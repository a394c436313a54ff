"""JSON shapes of the finance desk (the API and its OpenAPI schemas)."""
from marketplace.kernel.timeutil import iso

from .vouchers import remaining

OBJ = {"type": "object"}
VALUATION = {"type": "object", "required": ["id", "value", "status", "self_assessment"], "properties": {
    "id": {"type": "integer"}, "valuation_date": {"type": "string", "format": "date"},
    "rights": {"type": "array", "items": OBJ}, "revenues": {"type": "array", "items": {"type": "integer"}},
    "royalty_rate": {"type": "string"}, "discount_rate": {"type": "string"}, "life_years": {"type": "integer"},
    "value": {"type": "integer", "description": "fen"}, "currency": {"type": "string"}, "rounding": {"type": "string"},
    "formula": {"type": "string"}, "sensitivity": OBJ, "comparables": OBJ,
    "status": {"type": "string", "enum": ["self_assessment", "review_requested", "signed_off"]},
    "self_assessment": {"type": "boolean"}, "signer_role": {"type": "string", "nullable": True},
    "signed_at": {"type": "string", "nullable": True}, "sign_note": {"type": "string", "nullable": True},
    "listing_id": {"type": "integer", "nullable": True}, "note": {"type": "string", "nullable": True},
    "created_at": {"type": "string"}, "pdf_url": {"type": "string"}}}
VALUATION_INPUT = {"type": "object", "required": ["rights", "revenues", "royalty_rate", "discount_rate", "life_years"],
                   "properties": {
    "rights": {"type": "array", "minItems": 1, "maxItems": 20, "items": {
        "type": "object", "required": ["kind", "number"],
        "properties": {"kind": {"type": "string", "enum": ["patent", "trademark"]}, "number": {"type": "string"}}}},
    "revenues": {"type": "array", "maxItems": 30, "items": {"type": "integer", "minimum": 0},
                 "description": "expected revenue attributable to the IP, fen per year, year 1 first"},
    "royalty_rate": {"type": "string", "description": "percent, > 0 and ≤ 100, e.g. \"12.5\""},
    "discount_rate": {"type": "string", "description": "percent, > 0 and < 100"},
    "life_years": {"type": "integer", "minimum": 1, "maximum": 30,
                   "description": "remaining economic life; at most the rights' remaining term"},
    "note": {"type": "string", "maxLength": 2000}}}
APPLICATION = {"type": "object", "required": ["id", "status", "amount", "rights"], "properties": {
    "id": {"type": "integer"}, "organization": {"type": "string"}, "amount": {"type": "integer"},
    "currency": {"type": "string"}, "term_months": {"type": "integer"}, "purpose": {"type": "string"},
    "status": {"type": "string"}, "listed": {"type": "boolean"}, "rights": {"type": "array", "items": OBJ},
    "valuation": {"type": "object", "nullable": True}, "statements": {"type": "boolean"},
    "banks": {"type": "array", "nullable": True, "items": {"type": "integer"}},
    "offers": {"type": "array", "items": OBJ}, "messages": {"type": "array", "items": OBJ}, "pledge": OBJ,
    "created_at": {"type": "string"}}}
APPLICATION_INPUT = {"type": "object", "required": ["rights", "amount", "term_months", "purpose"], "properties": {
    "rights": VALUATION_INPUT["properties"]["rights"], "amount": {"type": "integer", "minimum": 1, "description": "fen"},
    "term_months": {"type": "integer", "minimum": 1, "maximum": 360},
    "purpose": {"type": "string", "minLength": 5, "maxLength": 2000},
    "valuation_id": {"type": "integer", "nullable": True},
    "banks": {"type": "array", "maxItems": 20, "items": {"type": "integer"}, "description": "bank organisation ids"},
    "listed": {"type": "boolean", "description": "list the application in the project database (项目库)"}}}
REGISTRATION_INPUT = {"type": "object", "required": ["number", "date"], "properties": {
    "number": {"type": "string", "minLength": 5, "maxLength": 60}, "date": {"type": "string", "format": "date"}}}
BATCH = {"type": "object", "properties": {
    "id": {"type": "integer"}, "programme": {"type": "string"}, "face_value": {"type": "integer"},
    "valid_from": {"type": "string"}, "valid_until": {"type": "string"},
    "services": {"type": "array", "items": {"type": "string"}}, "regions": {"type": "array", "items": {"type": "string"}},
    "organization_ids": {"type": "array", "items": {"type": "integer"}}, "single_use": {"type": "boolean"}}}
BATCH_INPUT = {"type": "object", "required": ["programme", "face_value", "valid_from", "valid_until", "services"],
               "properties": {**{k: v for k, v in BATCH["properties"].items() if k != "id"}}}
VOUCHER = {"type": "object", "properties": {
    "batch_id": {"type": "integer"}, "programme": {"type": "string"}, "face_value": {"type": "integer"},
    "used": {"type": "integer"}, "remaining": {"type": "integer"}, "valid_until": {"type": "string"},
    "services": {"type": "array", "items": {"type": "string"}}, "single_use": {"type": "boolean"}}}
CHARGE = {"type": "object", "properties": {
    "id": {"type": "integer"}, "service": {"type": "string"}, "amount": {"type": "integer"},
    "paid_by_voucher": {"type": "integer"}, "paid_by_transfer": {"type": "integer"},
    "outstanding": {"type": "integer"}, "status": {"type": "string", "enum": ["due", "paid", "cancelled"]},
    "valuation_id": {"type": "integer", "nullable": True},
    "deal_id": {"type": "integer", "nullable": True, "description": "a deal's platform fee (service deal_fee)"},
    "paid_from_escrow": {"type": "integer", "description": "a deal fee's rest, deducted from the escrow at release"},
    "held_by_voucher": {"type": "integer", "description": "voucher money set aside for a deal's fee until release"}}}


def batch_json(b):
    return {"id": b.id, "programme": b.programme, "face_value": b.face_value, "valid_from": b.valid_from.isoformat(),
            "valid_until": b.valid_until.isoformat(), "services": list(b.services), "regions": list(b.regions or []),
            "organization_ids": list(b.organization_ids or []), "single_use": b.single_use}


def voucher_json(v):
    b = v.batch
    return {"batch_id": b.id, "programme": b.programme, "face_value": b.face_value, "used": v.used,
            "remaining": remaining(v), "valid_from": b.valid_from.isoformat(), "valid_until": b.valid_until.isoformat(),
            "services": list(b.services), "single_use": b.single_use}


def charge_json(c):
    return {"id": c.id, "service": c.service, "amount": c.amount, "paid_by_voucher": c.paid_by_voucher,
            "paid_by_transfer": c.paid_by_transfer, "outstanding": c.outstanding, "status": c.status,
            "valuation_id": c.valuation_id, "deal_id": c.deal_id, "paid_from_escrow": c.paid_from_escrow,
            "held_by_voucher": _held(c), "created_at": iso(c.created_at), "paid_at": iso(c.paid_at)}


def _held(charge):
    if charge.deal_id is None:
        return 0
    from .deal_fees import summary

    return summary(charge.deal)["held"]
