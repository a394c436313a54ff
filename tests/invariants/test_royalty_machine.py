"""A Hypothesis state machine over royalty periods (issue 16): reported, computed, paid, held, released, paid out.

Random sequences through the services themselves: holders declare open licences (a percentage of net sales
with a yearly minimum, per quarter or year, or a fixed fee per year), verified organisations take them and pay
the upfront fee, the clock moves, licensees report sales (good figures, negative or absurd ones, periods that
have not ended, second reports), operators confirm bank transfers (right and wrong amounts), licensors release
held periods or the deadline job does after the hold, operators pay licensors out.

After every step, ``checks.check_royalties``: each period's money is where its status says, booked once under
its own keys, the fee at the deal's rate; ``royalty_escrow`` holds exactly the periods paid and not released;
every amount is what the rule computes from the reports, and a reported licence year was charged its royalty and
at least its minimum. A refused act changes nothing.
"""
import itertools
from datetime import timedelta

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select

from escrow import deals, royalties
from escrow.models import JournalEntry
from escrow.royalty_models import Licence, RoyaltyPeriod
from listings import open_licence as ol
from marketplace.kernel.errors import DomainError
from marketplace.kernel.extensions import db
from marketplace.kernel.models import User
from marketplace.kernel.timeutil import local, utcnow
from tests import factories

from . import checks
from .conftest import invariant_settings
from .test_escrow_machine import _no_fsync_on_sqlite

_refs = itertools.count(1)


@pytest.fixture
def app_config():
    return {"SEARCH_SYNC_ON_COMMIT": False, "MAX_OPEN_RESERVATIONS": 10**6}


def make_people():
    holder = factories.make_user("seller")
    takers = [factories.make_user("buyer", org=factories.make_org()) for _ in range(3)]
    operator = factories.make_user("operator")
    db.session.commit()
    return holder.id, [t.id for t in takers], operator.id


class RoyaltyMachine(RuleBasedStateMachine):
    people = None
    reached = set()

    def __init__(self):
        super().__init__()
        db.session.rollback()
        holder, takers, operator = self.people
        self.holder = db.session.get(User, holder)
        self.takers = [db.session.get(User, i) for i in takers]
        self.operator = db.session.get(User, operator)
        self.now = utcnow()
        self.licence_ids = []

    def attempt(self, step):
        try:
            result = step()
        except DomainError as exc:
            db.session.rollback()
            return exc
        db.session.commit()
        return result

    def snapshot(self):
        db.session.expire_all()
        return (db.session.scalar(select(func.count(JournalEntry.id))),
                tuple(db.session.execute(select(RoyaltyPeriod.id, RoyaltyPeriod.status, RoyaltyPeriod.net_sales,
                                                RoyaltyPeriod.amount).order_by(RoyaltyPeriod.id)).all()))

    def licence(self, i):
        return db.session.get(Licence, self.licence_ids[i % len(self.licence_ids)])

    def periods(self, i, status):
        return [p for p in self.licence(i).periods if p.status == status]

    # --- rules ----------------------------------------------------------------------------------------

    @initialize(kind=st.sampled_from(["percent", "fixed"]), bps=st.integers(1, 10_000),
                minimum=st.integers(1, 10**7), period=st.sampled_from(["quarter", "year"]), years=st.integers(1, 3))
    def first_licence(self, kind, bps, minimum, period, years):
        self.open_licence(kind, bps, minimum, period, years, 0)

    @precondition(lambda self: len(self.licence_ids) < 3)
    @rule(kind=st.sampled_from(["percent", "percent", "fixed"]), bps=st.integers(1, 10_000),
          minimum=st.integers(1, 10**9), period=st.sampled_from(["quarter", "year"]), years=st.integers(1, 3),
          taker=st.integers(0, 2))
    def open_licence(self, kind, bps, minimum, period, years, taker):
        listing = factories.make_listing(self.holder, deal_types=("non_exclusive_license",))
        db.session.commit()
        terms = {"royalty_kind": kind, "term_years": years}
        if kind == "percent":
            terms.update(royalty_bps=bps, yearly_minimum=minimum, period=period)
        else:
            terms.update(annual_fee=minimum)
        decl = ol.declare(listing.id, self.holder, terms, now=self.now)
        db.session.commit()
        deal, licence = ol.take(decl.id, self.takers[taker], now=self.now)
        db.session.commit()
        factories.sign_contract(deal, now=self.now)
        deals.confirm_offline_payment(deal.id, deal.payment_reference, deal.price, self.operator, now=self.now)
        royalties.sync(licence, self.now)
        db.session.commit()
        assert licence.status == "active"
        self.licence_ids.append(licence.id)

    @rule(days=st.integers(1, 200))
    def advance(self, days):
        self.now += timedelta(days=days)

    @precondition(lambda self: self.licence_ids)
    @rule(i=st.integers(0, 2), sales=st.one_of(st.integers(0, 10**12), st.sampled_from([0, 1, 99_999]),
                                               st.sampled_from([-1, 10**15, True, "100"])))
    def report(self, i, sales):
        licence = self.licence(i)
        today = local(self.now).date()
        open_ = self.periods(i, "open")
        if not open_:
            return
        period = open_[0]
        before = self.snapshot()
        result = self.attempt(lambda: royalties.report(licence.id, period.id, db.session.get(User, licence.licensee_id),
                                                       sales, now=self.now))
        good = isinstance(sales, int) and not isinstance(sales, bool) and 0 <= sales <= 10**14
        if good and period.ends_on < today:  # also after the licence ended: its last periods are still reported
            assert not isinstance(result, DomainError), result
            self.reached.add("reported")
        else:
            assert isinstance(result, DomainError)
            assert self.snapshot() == before, "a refused report changed something"
            self.reached.add("report_refused")

    @precondition(lambda self: self.licence_ids)
    @rule(i=st.integers(0, 2))
    def second_report(self, i):
        licence = self.licence(i)
        done = [p for p in licence.periods if p.kind == "running" and p.status != "open"]
        if not done:
            return
        before = self.snapshot()
        result = self.attempt(lambda: royalties.report(licence.id, done[-1].id,
                                                       db.session.get(User, licence.licensee_id), 5, now=self.now))
        assert isinstance(result, DomainError) and self.snapshot() == before
        self.reached.add("second_report_refused")

    @precondition(lambda self: self.licence_ids)
    @rule(i=st.integers(0, 2), right=st.booleans())
    def pay(self, i, right):
        waiting = self.periods(i, "awaiting_payment")
        if not waiting:
            return
        period = waiting[0]
        amount = period.amount if right else period.amount + 1
        before = self.snapshot()
        result = self.attempt(lambda: royalties.confirm_payment(period.id, period.payment_reference, amount,
                                                                self.operator, now=self.now))
        if right:
            assert not isinstance(result, DomainError), result
            self.reached.add("held")
        else:
            assert isinstance(result, DomainError) and self.snapshot() == before

    @precondition(lambda self: self.licence_ids)
    @rule(i=st.integers(0, 2), by_licensor=st.booleans())
    def release(self, i, by_licensor):
        held = self.periods(i, "held")
        if not held:
            return
        licence = self.licence(i)
        if by_licensor:
            result = self.attempt(lambda: royalties.release(licence.id, held[0].id,
                                                            db.session.get(User, licence.licensor_id), now=self.now))
            assert not isinstance(result, DomainError), result
            self.reached.add("released_by_licensor")
        else:
            before = self.snapshot()
            result = self.attempt(lambda: royalties.release(licence.id, held[0].id, db.session.get(
                User, licence.licensee_id), now=self.now))
            assert isinstance(result, DomainError) and self.snapshot() == before

    @precondition(lambda self: self.licence_ids)
    @rule(i=st.integers(0, 2))
    def payout(self, i):
        released = self.periods(i, "released")
        if not released:
            return
        result = self.attempt(lambda: royalties.record_payout(released[0].id, f"BOC{next(_refs):010d}",
                                                              self.operator, now=self.now))
        assert not isinstance(result, DomainError), result
        self.reached.add("paid_out")

    @rule()
    def deadlines(self):
        self.attempt(lambda: royalties.run_royalty_deadlines(self.now))

    @invariant()
    def books_hold(self):
        db.session.expire_all()
        checks.check_royalties(self.licence_ids)


def test_royalty_periods_are_paid_held_released_and_paid_out_exactly_once(app):
    _no_fsync_on_sqlite()
    RoyaltyMachine.people = make_people()
    run_state_machine_as_test(RoyaltyMachine, settings=invariant_settings())
    print("royalty steps reached:", sorted(RoyaltyMachine.reached))
