"""Licensing fixtures (issue 16): a patent holder, three verified organisations that take licences, an operator,
and helpers that pay a deal and move time on."""
from datetime import timedelta

import pytest

from escrow import deals
from escrow.deadlines import run_deadlines
from listings import open_licence as ol
from marketplace.kernel.extensions import db
from marketplace.kernel.timeutil import utcnow
from tests import factories

PERCENT_TERMS = {"royalty_kind": "percent", "royalty_bps": 500, "yearly_minimum": 100_000_00, "period": "quarter",
                 "term_years": 3}
FIXED_TERMS = {"royalty_kind": "fixed", "annual_fee": 80_000_00, "term_years": 3}


class People:
    def __init__(self):
        self.holder = factories.make_user("seller")
        self.takers = [factories.make_user("buyer", org=factories.make_org()) for _ in range(3)]
        self.operator = factories.make_user("operator")


@pytest.fixture
def people(app):
    p = People()
    db.session.commit()
    return p


@pytest.fixture
def declared(people):
    """declared(terms=PERCENT_TERMS, **listing_kw) → a committed open declaration on a new patent listing."""

    def make(terms=PERCENT_TERMS, **listing_kw):
        listing_kw.setdefault("deal_types", ("non_exclusive_license",))
        listing = factories.make_listing(people.holder, **listing_kw)
        db.session.commit()
        decl = ol.declare(listing.id, people.holder, dict(terms))
        db.session.commit()
        return decl

    return make


def take_and_pay(decl, taker, operator, now=None):
    """The taker takes the open licence, both sign, the operator confirms the bank transfer; the deadlines run
    (the licence starts). Returns (deal, licence)."""
    now = now or utcnow()
    deal, licence = ol.take(decl.id, taker, now=now)
    db.session.commit()
    factories.sign_contract(deal, now=now)
    deals.confirm_offline_payment(deal.id, deal.payment_reference, deal.price, operator, now=now)
    db.session.commit()
    run_deadlines(now + timedelta(minutes=1))
    db.session.refresh(licence)
    return deal, licence
