"""A Hypothesis state machine over innovation vouchers (创新券): programmes issue batches (regions, named SMEs,
single use or not, some already expired), fees fall due, SMEs pay any amount with any batch (eligible or
not, over the voucher's value, over the fee, twice), operators record bank transfers (right and wrong amounts)
and programmes' reimbursements (once per reference).

After every step ``checks.check_vouchers``: no voucher used beyond its value or twice when single-use, every
charge paid exactly by its redemptions and transfer, and per programme the ledger's ``voucher_due`` and
``voucher_paid`` equal its unsettled and settled redemptions. A refused act changes nothing."""
import itertools
from datetime import timedelta

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test
from sqlalchemy import func, select

from escrow.models import JournalEntry
from finance import vouchers
from finance.models import ServiceCharge, VoucherBatch, VoucherRedemption
from marketplace.kernel.errors import DomainError
from marketplace.kernel.extensions import db
from marketplace.kernel.models import User
from marketplace.kernel.timeutil import local, utcnow
from tests import factories

from . import checks
from .conftest import invariant_settings

_refs = itertools.count(1)


def make_people():
    smes = [factories.make_user("seller", org=factories.make_org(region=r)) for r in ("shenzhen", "guangzhou")]
    smes.append(factories.make_user("buyer", org=factories.make_org(region="shenzhen", verified=False)))
    issuers = [factories.make_user("voucher_issuer", org=factories.make_org(name=f"创新券项目{i}", region="guangzhou"))
               for i in range(2)]
    operator = factories.make_user("operator")
    db.session.commit()
    return [u.id for u in smes], [u.id for u in issuers], operator.id


class VoucherMachine(RuleBasedStateMachine):
    people = None
    redeemed = 0

    def __init__(self):
        super().__init__()
        db.session.rollback()
        smes, issuers, operator = self.people
        self.smes = [db.session.get(User, i) for i in smes]
        self.issuers = [db.session.get(User, i) for i in issuers]
        self.operator = db.session.get(User, operator)
        self.today = local(utcnow()).date()

    def attempt(self, step):
        before = self.snapshot()
        try:
            result = step()
        except DomainError:
            db.session.rollback()
            assert self.snapshot() == before, "a refused act changed something"
            return None
        db.session.commit()
        return result

    def snapshot(self):
        db.session.expire_all()
        return (db.session.execute(select(func.count(JournalEntry.id))).scalar_one(),
                db.session.execute(select(func.count(VoucherRedemption.id))).scalar_one(),
                db.session.execute(select(func.coalesce(func.sum(ServiceCharge.paid_by_transfer), 0))).scalar_one())

    @initialize()
    def a_voucher_and_a_fee_that_fit(self):
        """Every run starts with one batch the first SME may use on the fee it owes (random ones rarely fit)."""
        vouchers.create_batch(self.issuers[0], {
            "programme": f"项目{next(_refs)}", "face_value": 1000_00, "valid_from": self.today.isoformat(),
            "valid_until": (self.today + timedelta(days=30)).isoformat(), "services": ["valuation_review"],
            "organization_ids": [self.smes[0].organization_id]})
        db.session.add(ServiceCharge(organization_id=self.smes[0].organization_id, service="valuation_review",
                                     amount=2000_00))
        db.session.commit()

    @rule(amount=st.integers(1, 1200_00))
    def first_sme_pays_with_the_newest_batch(self, amount):
        batch = db.session.execute(select(VoucherBatch.id).order_by(VoucherBatch.id.desc())).scalars().first()
        charge = db.session.execute(select(ServiceCharge.id).where(
            ServiceCharge.organization_id == self.smes[0].organization_id).order_by(ServiceCharge.id.desc())
        ).scalars().first()
        if self.attempt(lambda: vouchers.redeem(self.smes[0], batch, charge, amount)) is not None:
            VoucherMachine.redeemed += 1

    @rule(issuer=st.integers(0, 1), face=st.integers(1, 3000_00), single=st.booleans(),
          region=st.sampled_from(["shenzhen", "guangzhou", None]), named=st.integers(0, 2),
          expired=st.booleans(), service=st.sampled_from(["valuation_review", "deal_fee"]))
    def issue(self, issuer, face, single, region, named, expired, service):
        start = self.today - timedelta(days=60)
        data = {"programme": f"项目{next(_refs)}", "face_value": face, "valid_from": start.isoformat(),
                "valid_until": (self.today + timedelta(days=30)).isoformat(), "services": [service],
                "regions": [region] if region else [], "organization_ids": [self.smes[named].organization_id],
                "single_use": single}
        batch = self.attempt(lambda: vouchers.create_batch(self.issuers[issuer], data))
        if batch is not None and expired:  # the batch's validity ended yesterday
            batch.valid_until = self.today - timedelta(days=1)
            db.session.commit()

    @rule(sme=st.integers(0, 2), amount=st.integers(1, 5000_00))
    def fee_falls_due(self, sme, amount):
        db.session.add(ServiceCharge(organization_id=self.smes[sme].organization_id, service="valuation_review",
                                     amount=amount))
        db.session.commit()

    @rule(sme=st.integers(0, 2), charge=st.integers(0, 30), batch=st.integers(0, 30), theirs=st.booleans(),
          amount=st.one_of(st.integers(1, 300_00), st.integers(-5, 6000_00)))
    def pay_with_voucher(self, sme, charge, batch, theirs, amount):
        query = select(ServiceCharge.id).order_by(ServiceCharge.id)
        if not theirs:  # mostly its own fees; sometimes anyone's
            query = query.where(ServiceCharge.organization_id == self.smes[sme].organization_id)
        charges = db.session.execute(query).scalars().all()
        batches = db.session.execute(select(VoucherBatch.id).order_by(VoucherBatch.id)).scalars().all()
        if not charges or not batches:
            return
        if self.attempt(lambda: vouchers.redeem(self.smes[sme], batches[batch % len(batches)],
                                                charges[charge % len(charges)], amount)) is not None:
            VoucherMachine.redeemed += 1

    @rule(charge=st.integers(0, 30), exact=st.booleans())
    def transfer_arrives(self, charge, exact):
        rows = db.session.execute(select(ServiceCharge).order_by(ServiceCharge.id)).scalars().all()
        if not rows:
            return
        row = rows[charge % len(rows)]
        amount = row.outstanding if exact else row.outstanding + 1
        self.attempt(lambda: vouchers.confirm_transfer(self.operator, row.id, f"BOC{next(_refs):08d}", amount))

    @rule(issuer=st.integers(0, 1), reuse=st.booleans())
    def programme_reimburses(self, issuer, reuse):
        reference = "GDZF-SAME" if reuse else f"GDZF{next(_refs):08d}"
        self.attempt(lambda: vouchers.settle(self.operator, self.issuers[issuer].organization_id, reference))

    @invariant()
    def books_hold(self):
        db.session.expire_all()
        checks.check_vouchers()


def test_vouchers_never_create_money(app):
    VoucherMachine.people = make_people()
    run_state_machine_as_test(VoucherMachine, settings=invariant_settings(ci_budget=(25, 30)))
    assert VoucherMachine.redeemed > 0, "no voucher was ever used: the machine tested nothing"
