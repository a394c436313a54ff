"""Innovation vouchers on a deal's platform fee (交易服务费, issue 23).

The platform fee is the seller's: escrow deducts it from the seller's share at release (``escrow.fees``). The
seller's organisation may pay part or all of it with its vouchers while the deal runs (awaiting payment up to
the recorded transfer): the deal's fee becomes a service charge (``ServiceCharge.deal_id``, service ``deal_fee``)
and each use is **held** — set aside on the voucher, nothing booked — because the fee is earned only at release.

* At release (``on_release``, called by ``escrow.deals._release`` under the deal's lock) the held uses are
  booked up to the fee actually charged (a split charges the fee on the seller's share only; what exceeds it
  goes back to the voucher), one entry each (``voucher_redemption:<id>``, tagged with the deal)::

      voucher_due:<issuer> −a       platform_revenue +a

  and the release itself takes that much less fee out of the escrow and owes the seller that much more::

      escrow −S      seller_payable +(S − F + A)      platform_revenue +(F − A)

* A deal that ends unsold (cancelled, refunded: ``on_close``) gives every use back to its voucher; a use
  already booked (released, then held back by an upheld claim, then refunded) is reversed
  (``voucher_redemption:<id>:return``: platform_revenue −a, voucher_due +a).
* A release held back (``escrow.deals._hold_release``) reverses only the release entry; the booked uses stay,
  and count again at the next release.

So the deal's platform revenue is its fee F, of which A came from the programmes; the seller is paid S − F + A.
"""
from flask_babel import gettext as _
from sqlalchemy import select

from escrow.deals import lock_deal, roles_of
from escrow.models import Deal
from marketplace.kernel.errors import Conflict, NotFound, PermissionDenied
from marketplace.kernel.extensions import db
from marketplace.kernel.timeutil import utcnow

from . import vouchers
from .access import require_sme
from .models import ServiceCharge, VoucherRedemption

# while the fee is still to be charged, and no dispute is open
APPLICABLE_STATES = ("awaiting_payment", "funded", "transfer_filed", "recordal_submitted", "transfer_recorded")


def charge_of(deal):
    return db.session.scalar(select(ServiceCharge).where(ServiceCharge.deal_id == deal.id))


def apply(user, deal_id, batch_id, amount, now=None):
    """The seller's organisation sets ``amount`` fen of its voucher of ``batch_id`` aside for the deal's fee."""
    require_sme(user)
    now = now or utcnow()
    deal = lock_deal(deal_id)
    roles = roles_of(deal, user)
    if not roles:
        raise NotFound(_("交易不存在"))
    if "seller" not in roles or deal.organization_id is None or deal.organization_id != user.organization_id:
        raise PermissionDenied(_("平台服务费由卖方单位支付：只有卖方可以用本单位的创新券支付"))
    if deal.state not in APPLICABLE_STATES:
        raise Conflict(_("交易在当前状态下不能再用创新券支付平台服务费"), state=deal.state)
    if not deal.fee:
        raise Conflict(_("本交易没有平台服务费"))
    charge = charge_of(deal)
    if charge is None:
        charge = ServiceCharge(organization_id=deal.organization_id, service="deal_fee", deal_id=deal.id,
                               amount=deal.fee, created_at=now)
        db.session.add(charge)
        db.session.flush()
    return vouchers.use(user, batch_id, charge, amount, now=now, hold=True)


def _uses(charge):
    return list(db.session.scalars(select(VoucherRedemption).where(
        VoucherRedemption.charge_id == charge.id, VoucherRedemption.status != "returned")
        .order_by(VoucherRedemption.id)))


def on_release(deal, fee, actor, now):
    """Book the uses set aside for the deal's fee, up to ``fee`` (the fee the release charges); give the rest
    back. Returns what the programmes pay of the fee (fen). The caller holds the deal's lock."""
    charge = charge_of(deal)
    if charge is None:
        return 0
    left = fee
    for r in _uses(charge):
        if r.status == "booked":  # booked at an earlier release that was held back
            if r.amount <= left:
                left -= r.amount
            else:
                vouchers.give_back(r, actor, now, deal=deal)
            continue
        take = min(r.amount, left)
        if take == 0:
            vouchers.give_back(r, actor, now, deal=deal)
            continue
        if take < r.amount:  # never booked: the part beyond the fee simply stays on the voucher
            r.voucher.used -= r.amount - take
            charge.paid_by_voucher -= r.amount - take
            r.amount = take
        vouchers.book(r, actor, now, deal=deal)
        left -= take
    credit = fee - left
    if fee > 0:
        charge.amount = fee
        charge.paid_from_escrow, charge.status, charge.paid_at = fee - credit, "paid", now
    else:  # nothing charged (a split left too little for a fee): no fee to pay
        charge.paid_from_escrow, charge.status = 0, "cancelled"
    db.session.flush()
    return credit


def booked_credit(deal):
    """What the programmes paid of the deal's fee at its release (fen); 0 without vouchers."""
    charge = charge_of(deal)
    if charge is None:
        return 0
    return sum(r.amount for r in _uses(charge) if r.status == "booked")


def on_hold(deal):
    """The release was held back (an upheld claim): the fee is charged again at the next release."""
    charge = charge_of(deal)
    if charge is not None and charge.status == "paid":
        charge.paid_from_escrow, charge.status, charge.paid_at = 0, "due", None
        db.session.flush()


def on_close(deal, actor, now):
    """The deal ended unsold: every use goes back to its voucher (a booked one is reversed in the ledger)."""
    charge = charge_of(deal)
    if charge is None:
        return
    for r in _uses(charge):
        vouchers.give_back(r, actor, now, deal=deal)
    charge.paid_from_escrow, charge.status = 0, "cancelled"
    db.session.flush()


def summary(deal):
    """For the deal page: the fee's charge and its uses (None without vouchers)."""
    charge = charge_of(deal)
    if charge is None:
        return None
    uses = _uses(charge)
    return {"charge": charge, "held": sum(r.amount for r in uses if r.status == "held"),
            "booked": sum(r.amount for r in uses if r.status == "booked"), "uses": uses}


def payable_deals(user):
    """The user's running deals as seller (for its organisation) whose fee vouchers may still pay."""
    if user is None or user.organization_id is None:
        return []
    return list(db.session.scalars(select(Deal).where(
        Deal.seller_id == user.id, Deal.organization_id == user.organization_id,
        Deal.state.in_(APPLICABLE_STATES), Deal.fee > 0).order_by(Deal.id.desc()).limit(100)))
