"""JSON shapes of the finance desk (their schemas: ``finance.schemas``)."""
from marketplace.kernel.timeutil import iso

from .vouchers import remaining


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
