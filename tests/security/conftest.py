"""Fixtures for the security tests: a world of six kinds of visitor and the objects they act on.

``world`` holds a seller (organisation A), another seller (organisation B), a buyer, another
buyer and an operator (organisation of their own); anonymous is ``None``. Builders make the
objects a route acts on, in the state that route needs, through the services themselves.

Users made by the factories have a cheap PBKDF2 hash (``factories.hash_of``); here a password set through
a page (registration, reset, change: ``User.set_password``, scrypt in production) gets one too, because the
matrix calls those routes hundreds of times. Logins and signatures still check it.
"""
import io
import itertools
from datetime import timedelta

import pytest
from werkzeug.datastructures import FileStorage

from marketplace.kernel.extensions import db
from marketplace.kernel.timeutil import utcnow
from tests import factories
from tests.conftest import login
from tests.factories import PDF, PNG  # noqa: F401 (conftest: shared with the tests)

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
ROLES = ("anon", "buyer", "other_buyer", "seller", "other_seller", "operator")
_seq = itertools.count(1)
_refs = itertools.count(1)  # bank references are used once (escrow.refunds.ensure_reference_unused)


@pytest.fixture(autouse=True)
def _cheap_password_hashes(monkeypatch):
    from marketplace.kernel import models

    real = models.generate_password_hash

    def fast(password, method="scrypt", salt_length=16):
        if password == factories.PASSWORD:
            return factories.hash_of(password)
        return real(password, method="pbkdf2:sha256:1000", salt_length=salt_length)

    monkeypatch.setattr(models, "generate_password_hash", fast)


def client_for(app, user, api=False):
    """A test client acting as ``user`` (None: anonymous), by bearer token (``api``) or by session.

    Returns ``(client, headers)``; the headers carry the token for API calls.
    """
    client = app.test_client()
    headers = {}
    if user is not None:
        if api:
            headers = factories.auth_header(user)
            db.session.commit()
        else:
            login(client, user)
    return client, headers


def upload(data=PDF, name="doc.pdf", content_type="application/pdf"):
    return FileStorage(stream=io.BytesIO(data), filename=name, content_type=content_type)


class World:
    """Everyone, and builders for what they act on (each builder commits)."""

    def __init__(self):
        self.seller = factories.make_user("seller")
        self.other_seller = factories.make_user("seller")
        self.buyer = factories.make_user("buyer")
        self.other_buyer = factories.make_user("buyer")
        self.operator = factories.make_user("operator")
        db.session.commit()

    def user(self, role):
        return None if role == "anon" else getattr(self, role)

    # --- listings -------------------------------------------------------------------------------

    def listing(self, **kw):
        listing = factories.make_listing(self.seller, number=kw.pop("number", None), **kw)
        db.session.commit()
        return listing

    def auction(self):
        return self.listing(price_mode="auction", auction={"ends_at": utcnow() + timedelta(days=2)})

    def offer(self):
        from escrow import trading

        listing = self.listing(price_mode="negotiable", price=None)
        offer = trading.make_offer(listing.id, self.buyer, 50_000_00, "assignment", "诚意报价")
        db.session.commit()
        return offer

    # --- deals --------------------------------------------------------------------------------------

    def deal(self, state="awaiting_payment", price=100_000_00, signed=True, kind="patent"):
        """A deal in ``state``, its contract signed by both parties (``signed=False``: unsigned)."""
        from escrow import deals, recordal

        listing = self.listing(price=price, kind=kind, deal_types=("assignment",))
        if kind == "trademark":  # a mark of its own: the seller's identical marks would have to go together
            listing.rights[0].title = "标" + "".join(chr(0x4E00 + (listing.id * 7919 + i * 104729) % 20000)
                                                    for i in range(3))
        deal = deals.open_deal(listing, self.buyer, price, "assignment", "purchase")
        db.session.commit()
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
            "transfer_back": ["fund", "file", "record", "verify", "dispute", "refund"],
        }[state]
        path = (["sign"] if signed else []) + path
        steps = {
            "sign": lambda: factories.sign_contract(deal),
            "verify": lambda: recordal.verify(deal.id, self.operator),
            "fund": lambda: deals.confirm_offline_payment(deal.id, deal.payment_reference, deal.price,
                                                          self.operator),
            "file": lambda: deals.file_transfer(deal.id, self.seller, upload(PDF, "receipt.pdf")),
            "record": lambda: (recordal.confirm_filing(deal.id, self.buyer) if recordal.needs_joint_filing(deal)
                               else None,
                               deals.record_transfer(deal.id, self.seller, upload(PNG, "notice.png"),
                                                     details=factories.recordal_details(deal))),
            "accept": lambda: deals.accept(deal.id, self.buyer),
            "payout": lambda: deals.mark_payout_paid(deal.id, f"BOC{next(_refs):08d}", self.operator),
            "dispute": lambda: deals.open_dispute(deal.id, self.buyer, "卖方迟迟不提交变更申请"),
            "cancel": lambda: deals.cancel_deal(deal.id, self.buyer),
            "refund": lambda: deals.resolve_dispute(deal.id, self.operator, "refund"),
        }
        for step in path:
            steps[step]()
            db.session.commit()
        assert deal.state == state
        return deal

    # --- money going out (issue 15) ---------------------------------------------------------------------

    def pending_account(self, micro=None):
        """A changed payout account of the seller's organisation, waiting for verification."""
        from escrow import payouts

        account = payouts.submit_account(self.seller, "中国银行", "深圳分行", f"62220210{next(_refs):08d}",
                                         self.seller.organization.name)
        if micro:
            payouts.send_micro_deposit(account.id, self.operator, micro)
        db.session.commit()
        return account

    def refund(self, account=False):
        """A bank-transfer deal refunded by a dispute decision: its refund instruction waits in the queue."""
        from escrow import deals, refunds

        deal = self.deal("disputed")
        deals.resolve_dispute(deal.id, self.operator, "refund")
        if account:
            refunds.enter_account(deal.id, self.buyer, "中国银行", "北京分行", "6222021001001234", self.buyer.name)
        db.session.commit()
        return refunds.instruction_of(deal.id)

    # --- the rest -------------------------------------------------------------------------------------

    def notification(self, link="/"):
        from marketplace.kernel.models import Notification

        row = Notification(user_id=self.buyer.id, kind="deal", title="测试消息", body="", link=link)
        db.session.add(row)
        db.session.commit()
        return row

    def saved_search(self):
        from search import service

        row = service.save_search(self.buyer, f"锂电池{next(_seq)}", {})
        db.session.commit()
        return row

    def credit_record(self):
        """A warning recorded against the seller (the user), which they may appeal."""
        from marketplace.kernel import credit

        rec = credit.record_violation(self.operator, self.seller, "non_performance", "warned",
                                      "未按约定时间办理著录项目变更手续")
        db.session.commit()
        return rec


@pytest.fixture
def world(app):
    return World()
