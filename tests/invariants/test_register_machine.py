"""A Hypothesis state machine over the rights register: listings, licences, assignments and refunds.

Three traders (each an organisation that both sells and buys) list a small pool of patent numbers
(the first to list an unknown number becomes its holder), for assignment, an exclusive or a
non-exclusive licence in one of a few territories; the others buy them, and the deals are driven
through escrow's own functions: payment, filing, recordal, acceptance and payout, cancels, and
disputes refunded after recordal (the transfer back, then ``confirm_reversal``).

After every step, for every right in the register:

* a right that has been assigned has exactly one holder;
* no licence is in force beside an exclusive or sole one whose territory and field it overlaps;
* no published listing offers a right that was assigned away from the listing's organisation.
"""
import itertools
from datetime import timedelta

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test
from sqlalchemy import select

from escrow import deals as deal_service
from escrow import recordal, trading
from escrow.models import TERMINAL_STATES, Deal
from listings import register, rules, service
from listings.models import Listing, Right
from marketplace.errors import DomainError
from marketplace.extensions import db
from marketplace.models import User
from marketplace.timeutil import utcnow
from tests import factories
from tests.escrow.conftest import PNG, upload
from tests.listings.conftest import patent_payload

from .conftest import invariant_settings
from .test_escrow_machine import _no_fsync_on_sqlite

_runs = itertools.count()
DEAL_TYPES = ["assignment", "exclusive_license", "non_exclusive_license"]
TERRITORIES = ["广东省", "浙江省", None]  # None: the whole of mainland China


@pytest.fixture
def app_config():
    # Issue 14's anti-cornering limits are off here (as in test_escrow_machine.py): the traders
    # persist across examples and cancel unpaid deals over and over, so strikes would restrict
    # them in later examples (and make Hypothesis's data generation depend on earlier examples).
    return {"SEARCH_SYNC_ON_COMMIT": False, "MAX_OPEN_RESERVATIONS": 10**6, "UNPAID_STRIKES": 10**6}


class RegisterMachine(RuleBasedStateMachine):
    people = None  # (trader ids, operator id), made once per test

    def __init__(self):
        super().__init__()
        db.session.rollback()
        trader_ids, operator_id = self.people
        self.traders = [db.session.get(User, i) for i in trader_ids]
        self.operator = db.session.get(User, operator_id)
        self.now = utcnow()
        self.listing_ids = []
        self.deal_ids = []
        run = next(_runs)  # each example its own numbers: the database is shared by the examples
        self.numbers = [factories.unique_patent_number(9000 + 3 * run + i) for i in range(3)]
        self.right_ids = set()

    # --- helpers ---------------------------------------------------------------------------

    def attempt(self, step):
        try:
            result = step()
        except DomainError as exc:
            db.session.rollback()
            return exc
        db.session.commit()
        return result

    def live_deals(self, *states):
        db.session.expire_all()
        rows = [db.session.get(Deal, i) for i in self.deal_ids]
        return sorted(d.id for d in rows if d.state not in TERMINAL_STATES and (not states or d.state in states))

    def published(self):
        db.session.expire_all()
        return sorted(i for i in self.listing_ids if db.session.get(Listing, i).status == "published")

    def step_deal(self, deal_id, step):
        deal = db.session.get(Deal, deal_id)
        seller = db.session.get(User, deal.seller_id)
        buyer = db.session.get(User, deal.buyer_id)
        acts = {
            "fund": lambda: (factories.sign_contract(deal, now=self.now),
                             deal_service.confirm_offline_payment(deal_id, deal.payment_reference, deal.price,
                                                                  self.operator, now=self.now)),
            "file": lambda: deal_service.file_transfer(deal_id, seller, upload(), now=self.now),
            "record": lambda: deal_service.record_transfer(deal_id, seller, upload(PNG, "notice.png"), now=self.now,
                                                           details=factories.recordal_details(deal, self.now)),
            "verify": lambda: recordal.verify(deal_id, self.operator, now=self.now),
            "accept": lambda: deal_service.accept(deal_id, buyer, now=self.now),
            "payout": lambda: deal_service.mark_payout_paid(deal_id, "BOC20260101001", self.operator, now=self.now),
            "dispute": lambda: deal_service.open_dispute(deal_id, buyer, "登记后发现权利有瑕疵", now=self.now),
            "refund": lambda: deal_service.resolve_dispute(deal_id, self.operator, "refund", now=self.now),
            "reverse": lambda: deal_service.confirm_reversal(deal_id, self.operator, now=self.now),
            "cancel": lambda: deal_service.cancel_deal(deal_id, buyer, now=self.now),
        }
        return self.attempt(acts[step])

    # --- listing ---------------------------------------------------------------------------

    @precondition(lambda self: len(self.listing_ids) < 6)
    @rule(trader=st.integers(0, 2), number=st.integers(0, 2), deal_type=st.sampled_from(DEAL_TYPES),
          territory=st.sampled_from(TERRITORIES))
    def list_right(self, trader, number, deal_type, territory):
        """A trader lists a number and submits it; an operator approves what passes the rule book."""
        seller = self.traders[trader]
        body = patent_payload(deal_types=[deal_type], price=100_000_00, license_territory=territory,
                              patent={"application_number": self.numbers[number]})
        result = self.attempt(lambda: service.create_listing(seller, body, now=self.now))
        if isinstance(result, DomainError):
            return
        listing, _warnings = result
        self.listing_ids.append(listing.id)
        self.right_ids.update(r.id for r in listing.rights)
        if isinstance(self.attempt(lambda: service.submit_listing(seller, listing.id, now=self.now)), DomainError):
            return
        self.attempt(lambda: service.review_listing(self.operator, listing.id, "approve", now=self.now))

    # --- deals -----------------------------------------------------------------------------

    @precondition(lambda self: len(self.deal_ids) < 6)
    @rule(data=st.data(), buyer=st.integers(0, 2))
    def buy(self, data, buyer):
        ids = self.published()
        if not ids:
            return
        listing = db.session.get(Listing, data.draw(st.sampled_from(ids), label="listing"))
        deal_type = listing.deal_types[0]
        result = self.attempt(lambda: trading.buy_now(listing.id, self.traders[buyer], deal_type, now=self.now))
        if isinstance(result, Deal):
            self.deal_ids.append(result.id)

    @precondition(lambda self: self.deal_ids)
    @rule(data=st.data(), steps=st.integers(1, 3))
    def advance(self, data, steps):
        """The next ``steps`` steps of a running deal along the happy path."""
        ids = self.live_deals()
        if not ids:
            return
        deal_id = data.draw(st.sampled_from(ids), label="deal")
        for _ in range(steps):
            state = db.session.get(Deal, deal_id).state
            step = {"awaiting_payment": "fund", "funded": "file", "transfer_filed": "record",
                    "recordal_submitted": "verify", "transfer_recorded": "accept", "released": "payout", "transfer_back": "reverse"}.get(state)
            if step is None or isinstance(self.step_deal(deal_id, step), DomainError):
                return

    @precondition(lambda self: self.deal_ids)
    @rule(data=st.data())
    def refund_after_recordal(self, data):
        """The buyer disputes a recorded transfer and an operator decides a refund: the transfer back."""
        ids = self.live_deals("transfer_recorded")
        if not ids:
            return
        deal_id = data.draw(st.sampled_from(ids), label="deal")
        if not isinstance(self.step_deal(deal_id, "dispute"), DomainError):
            self.step_deal(deal_id, "refund")
            assert db.session.get(Deal, deal_id).state == "transfer_back"

    @precondition(lambda self: self.deal_ids)
    @rule(data=st.data())
    def cancel_unpaid(self, data):
        ids = self.live_deals("awaiting_payment")
        if ids:
            self.step_deal(data.draw(st.sampled_from(ids), label="deal"), "cancel")

    @rule(days=st.integers(1, 200))
    def time_passes(self, days):
        self.now += timedelta(days=days)

    # --- invariants --------------------------------------------------------------------------

    @invariant()
    def the_register_holds(self):
        db.session.expire_all()
        today = (self.now + timedelta(hours=8)).date()
        for right in db.session.scalars(select(Right).where(Right.id.in_(self.right_ids))):
            actions = [e.action for e in right.events]
            if "assigned" in actions:
                assert len(right.holders) == 1, (right.number, right.holder_names, actions)
            in_force = right.licences_in_force(today)
            for sole in in_force:
                if sole.licence_type not in rules.EXCLUSIVE_LICENCES:
                    continue
                for other in in_force:
                    if other is not sole and rules.overlaps(sole.territory, other.territory) \
                            and rules.overlaps(sole.field, other.field):
                        raise AssertionError(
                            f"{right.number}: {other.licence_type} licence #{other.id} ({other.territory}, deal "
                            f"{other.deal_id}) in force beside {sole.licence_type} #{sole.id} ({sole.territory}, "
                            f"deal {sole.deal_id})")
            if "assigned" in actions or "reassigned_back" in actions:
                for listing in right.listings:
                    if listing.status == "published":
                        assert register.listing_party_holds(listing, right), (
                            f"{right.number} was assigned away but listing #{listing.id} of organisation "
                            f"{listing.organization_id} is published (holders {right.holder_names})")


def make_people():
    traders = [factories.make_user("buyer", "seller") for _ in range(3)]
    factories.fast_password(*traders)  # they sign a contract for every deal
    operator = factories.make_user("operator")
    db.session.commit()
    return [u.id for u in traders], operator.id


def test_register_never_has_two_owners_or_overlapping_exclusive_licences(app):
    _no_fsync_on_sqlite()
    RegisterMachine.people = make_people()
    run_state_machine_as_test(RegisterMachine, settings=invariant_settings())
