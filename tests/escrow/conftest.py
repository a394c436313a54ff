"""Escrow fixtures: deals opened with ``open_deal`` on a published listing, and a driver that
walks a deal along the real transitions to any state."""
import io
from datetime import timedelta

import pytest
from werkzeug.datastructures import FileStorage

from escrow import deals, recordal
from marketplace.kernel.extensions import db
from marketplace.kernel.timeutil import utcnow
from tests import factories
from tests.factories import PDF, PNG  # noqa: F401 (conftest: shared with the tests)


def upload(data=PDF, name="receipt.pdf"):
    return FileStorage(stream=io.BytesIO(data), filename=name, content_type="application/pdf")


class Parties:
    def __init__(self, buyer, seller, operator):
        self.buyer, self.seller, self.operator = buyer, seller, operator


@pytest.fixture
def parties(app):
    p = Parties(factories.make_user("buyer"), factories.make_user("seller"), factories.make_user("operator"))
    db.session.commit()
    return p


@pytest.fixture
def open_deal(app, parties):
    """open_deal(deal_type="assignment", price=…, kind="patent") → a committed deal awaiting payment, its
    contract signed by both parties (``signed=False``: unsigned, for tests of signing)."""

    def make(deal_type="assignment", price=1_000_000_00, kind="patent", now=None, signed=True, **listing_kw):
        listing = factories.make_listing(parties.seller, price=price, kind=kind,
                                         deal_types=("assignment", "non_exclusive_license", "exclusive_license"),
                                         **listing_kw)
        deal = deals.open_deal(listing, parties.buyer, price, deal_type, "purchase", now=now)
        if signed:
            factories.sign_contract(deal, now=now)
        db.session.commit()
        return deal

    return make


def drive(deal_id, state, parties, now=None, sign=True):
    """Move the deal along the real transitions to ``state``; returns the deal (committed).

    Both parties sign the contract first (``sign=False``: leave it unsigned, for tests of signing)."""
    from escrow.models import Deal

    now = now or utcnow()
    deal = db.session.get(Deal, deal_id)
    path = {
        "awaiting_payment": [],
        "funded": ["fund"],
        "transfer_filed": ["fund", "file"],
        "recordal_submitted": ["fund", "file", "record"],
        "transfer_recorded": ["fund", "file", "record", "verify"],
        "released": ["fund", "file", "record", "verify", "accept"],
        "completed": ["fund", "file", "record", "verify", "accept", "payout"],
        "disputed": ["fund", "dispute"],
        "cancelled": ["cancel"],
        "refunded": ["fund", "dispute", "refund"],
        "transfer_back": ["fund", "file", "record", "verify", "dispute", "refund"],
    }[state]
    steps = {
        "sign": lambda: factories.sign_contract(deal, now=now),
        "fund": lambda: deals.confirm_offline_payment(deal_id, deal.payment_reference, deal.price, parties.operator,
                                                      now=now),
        "file": lambda: deals.file_transfer(deal_id, parties.seller, upload(), now=now),
        "record": lambda: (recordal.confirm_filing(deal_id, parties.buyer, now=now)
                           if recordal.needs_joint_filing(deal) else None,
                           deals.record_transfer(deal_id, parties.seller, upload(PNG, "notice.png"), now=now,
                                                 details=factories.recordal_details(deal, now))),
        "verify": lambda: recordal.verify(deal_id, parties.operator, now=now),
        "accept": lambda: deals.accept(deal_id, parties.buyer, now=now),
        "payout": lambda: deals.mark_payout_paid(deal_id, "BOC20260101001", parties.operator, now=now),
        "dispute": lambda: deals.open_dispute(deal_id, parties.buyer, "卖方迟迟不提交变更申请", now=now),
        "refund": lambda: deals.resolve_dispute(deal_id, parties.operator, "refund", now=now),
        "cancel": lambda: deals.cancel_deal(deal_id, parties.buyer, now=now),
    }
    for step in (["sign"] if sign else []) + path:
        steps[step]()
        db.session.commit()
    deal = db.session.get(Deal, deal_id)
    assert deal.state == state
    return deal


@pytest.fixture
def later():
    return lambda **kw: utcnow() + timedelta(**kw)


def settle_bank_refund(deal_id, parties, reference=None):
    """The refund queue, as people do it: the buyer enters the account, an operator records the bank reference."""
    from escrow import refunds
    from escrow.payouts import payee_of_user

    refunds.enter_account(deal_id, parties.buyer, "中国银行", "北京中关村支行", "6222 0210 0100 1234",
                          payee_of_user(parties.buyer).name)
    refunds.mark_paid(deal_id, reference or f"BOCR{deal_id:08d}", parties.operator)
    db.session.commit()
