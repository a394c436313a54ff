"""Odd JSON (wrong types, huge ids, unhashable values) on every finance POST: a 4xx naming the problem, never a
500, nothing written."""
import pytest

from escrow.models import JournalEntry
from finance.models import LoanApplication, Valuation, VoucherBatch
from marketplace.kernel.extensions import db

from .conftest import api

ODD = [None, True, 2**40, -1, "x" * 50, [], {}, [{}], {"a": [1]}, 1.5]


def _written():
    db.session.expire_all()
    return (db.session.query(Valuation).count(), db.session.query(LoanApplication).count(),
            db.session.query(VoucherBatch).count(), db.session.query(JournalEntry).count())


@pytest.mark.parametrize("value", ODD, ids=repr)
def test_odd_values_in_every_field_are_refused_never_a_500(client, desk, value):
    before = _written()
    cases = [
        (desk.sme, "/valuations", ["rights", "revenues", "royalty_rate", "discount_rate", "life_years", "note"]),
        (desk.sme, "/loans", ["rights", "amount", "term_months", "purpose", "valuation_id", "banks", "listed"]),
        (desk.issuer, "/voucher-batches", ["programme", "face_value", "valid_from", "valid_until", "services",
                                           "regions", "organization_ids", "single_use"]),
        (desk.operator, "/voucher-settlements", ["issuer_organization_id", "reference"]),
        (desk.operator, "/roles", ["user_id", "role", "grant"]),
        (desk.sme, "/charges/1/voucher", ["batch_id", "amount"]),
    ]
    for user, path, fields in cases:
        for field in fields:
            r = api(client, user, "POST", path, json={field: value})
            assert 400 <= r.status_code < 500, (path, field, value, r.status_code)
            assert "error" in r.get_json()
    assert _written() == before
