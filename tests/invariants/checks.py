"""The books' invariants, read from the database: shared by the state machine and the crash test.

``check_books(deal_ids)`` asserts, for the whole ledger and for the given deals:

* every journal entry balances per currency and has at least two postings;
* no escrow, payable or in-transit balance is negative;
* money received = released to sellers (payable + paid out) + platform fees + refunded
  (+ in transit) + still held in escrow, per deal and in total;
* each state holds what it should (terminal: nothing in escrow, nothing owed to the seller);
* the deal's events form one chain from "open" to its state;
* no deal was funded before both parties signed its contract, and every signature is on the contract's
  hash (issue 15); a recorded transfer was verified by an operator against submitted details;
* a listing is reserved while its deal runs, sold when it completed, otherwise published again
  (expired when its deal came from its auction, which is closed), and never has two live deals;
* money leaving by bank transfer (``check_bank_money``): payouts only into a verified account past its
  hold, refunds booked once and only with the bank's reference, no bank reference used twice.

It returns ``{deal_id: Deal}``. A won auction's deposit applied to its deal counts as received by the deal
(``auction_deposits`` → the deal's escrow); ``check_deposits()`` checks every auction deposit: its money is
where its status says, and it was applied, returned or forfeited exactly once.
"""
from sqlalchemy import func, select

from escrow import ledger
from escrow.fees import platform_fee
from escrow.models import TERMINAL_STATES, Deal, DealEvent, JournalEntry, LedgerAccount, Posting
from escrow.payout_models import PayoutAccount, RefundInstruction
from listings.models import AuctionDeposit, Listing
from marketplace.kernel.extensions import db

HELD_STATES = ("funded", "transfer_filed", "recordal_submitted", "transfer_recorded", "disputed")
NAMES = {"escrow": "escrow", "seller_payable": "seller_payable", "platform_revenue": "platform_fee",
         "buyer_refunds": "refunded", "refunds_in_transit": "refund_in_transit", "seller_payouts": "paid_out"}


def balances_of(deal_ids):
    """{deal_id: deal_balances()-shaped dict} from one grouped query."""
    rows = db.session.execute(
        select(Posting.deal_id, LedgerAccount.code, func.sum(Posting.amount))
        .join(LedgerAccount, LedgerAccount.id == Posting.account_id)
        .where(Posting.deal_id.in_(list(deal_ids))).group_by(Posting.deal_id, LedgerAccount.code))
    raw = {}
    for deal_id, code, total in rows:
        raw.setdefault(deal_id, {})[code] = int(total)
    result = {}
    for deal_id in deal_ids:
        accounts = raw.get(deal_id, {})
        # paid in: through a gateway, or a won auction's deposit applied to the deal (auction_deposits → escrow)
        clearing = {k for k in accounts if k.startswith(ledger.GATEWAY_CLEARING) or k == "auction_deposits"}
        # innovation vouchers paying part of the deal's fee (finance.deal_fees): the programmes' money
        programmes = {k for k in accounts if k.startswith(ledger.VOUCHER_DUE)}
        unknown = set(accounts) - set(NAMES) - clearing - programmes
        assert not unknown, f"deal {deal_id} has postings on unexpected accounts {unknown}"
        b = {name: accounts.get(code, 0) for code, name in NAMES.items()}
        b["received"] = -sum(accounts[k] for k in clearing)
        b["fee_by_voucher"] = -sum(accounts[k] for k in programmes)
        result[deal_id] = b
    return result


def check_ledger():
    assert ledger.unbalanced_entries() == [], "a journal entry does not balance"
    one_sided = db.session.execute(select(Posting.entry_id).group_by(Posting.entry_id)
                                   .having(func.count(Posting.id) < 2)).scalars().all()
    assert one_sided == [], f"one-sided entries: {one_sided}"


def check_books(deal_ids):
    check_ledger()
    deal_ids = list(deal_ids)
    if not deal_ids:
        return {}
    deals = {d.id: d for d in db.session.execute(select(Deal).where(Deal.id.in_(deal_ids))).scalars()}
    events = {}
    for row in db.session.execute(select(DealEvent).where(DealEvent.deal_id.in_(deal_ids))
                                  .order_by(DealEvent.id)).scalars():
        events.setdefault(row.deal_id, []).append(row)
    balances = balances_of(deal_ids)
    check_paperwork(deals, events)
    totals = dict.fromkeys(NAMES.values(), 0) | {"received": 0, "fee_by_voucher": 0}
    for deal_id, deal in deals.items():
        b = balances[deal_id]
        for key in totals:
            totals[key] += b[key]
        check_money(deal, b)
        check_history(deal, events.get(deal_id, []))
    assert totals["received"] + totals["fee_by_voucher"] == (
        totals["escrow"] + totals["seller_payable"] + totals["paid_out"] + totals["platform_fee"]
        + totals["refunded"] + totals["refund_in_transit"])
    check_listings(deals.values())
    check_bank_money(deals.values(), balances)
    return deals


def check_bank_money(deals, balances):
    """Money leaving by bank transfer (issue 15).

    * a payout recorded by an operator (a bank transfer) went into the payee's account, verified
      before the payout and past its hold after a change, never into an unverified one;
    * an offline refund is an instruction; it is booked to the buyer exactly when the instruction is
      paid, once, under the instruction's own bank reference; until then the money is in transit;
    * a bank reference names one transfer: no two bank payouts or refunds share one.
    """
    deals = list(deals)
    ids = [d.id for d in deals]
    entries = {}
    for entry in db.session.execute(select(JournalEntry).where(JournalEntry.deal_id.in_(ids),
                                                               JournalEntry.kind.in_(("payout", "refund")))).scalars():
        entries.setdefault((entry.deal_id, entry.kind), []).append(entry)
    instructions = {r.deal_id: r for r in db.session.execute(
        select(RefundInstruction).where(RefundInstruction.deal_id.in_(ids))).scalars()}
    for deal in deals:
        where = f"deal {deal.id} ({deal.state}, {deal.gateway})"
        b = balances[deal.id]
        payouts_booked = entries.get((deal.id, "payout"), [])
        refunds_booked = entries.get((deal.id, "refund"), [])
        assert len(payouts_booked) <= 1 and len(refunds_booked) <= 1, f"{where}: booked twice"
        for entry in payouts_booked:
            if entry.actor_id is None:
                continue  # confirmed by the gateway (a Stripe Connect transfer): Stripe verified that account
            account = db.session.get(PayoutAccount, deal.payout_account_id) if deal.payout_account_id else None
            assert account is not None, f"{where}: a bank payout with no payout account"
            assert account.status == "verified" and account.verified_at is not None \
                and account.verified_at <= entry.created_at, f"{where}: paid into an unverified account"
            assert account.hold_until is None or account.hold_until <= entry.created_at, f"{where}: paid within the hold"
            assert (account.organization_id == deal.organization_id if deal.organization_id
                    else account.user_id == deal.seller_id), f"{where}: paid into someone else's account"
        instruction = instructions.get(deal.id)
        if deal.gateway == "offline" and deal.refund_amount:
            assert instruction is not None and instruction.amount == deal.refund_amount, where
        if instruction is None:
            continue
        if deal.gateway != "offline":  # the deposit's part (deposit paid by bank, balance by card: issue 15)
            part = db.session.execute(select(JournalEntry).where(
                JournalEntry.idempotency_key == f"deal:{deal.id}:deposit_refund")).scalar()
            assert instruction.amount == _deposit_refunded(deal), f"{where}: deposit part {instruction.amount}"
            if instruction.status == "paid":
                assert part is not None and part.reference == instruction.bank_reference, where
            else:
                assert part is None, f"{where}: deposit part booked before the bank reference"
            continue
        if instruction.status == "paid":
            assert [e.reference for e in refunds_booked] == [instruction.bank_reference], where
            assert b["refunded"] == instruction.amount and b["refund_in_transit"] == 0, where
            assert deal.refund_status == "refunded", where
        else:
            assert refunds_booked == [], f"{where}: refund booked before the bank reference"
            assert b["refund_in_transit"] == instruction.amount and b["refunded"] == 0, where
    bank_refs = db.session.execute(
        select(JournalEntry.reference, func.count(JournalEntry.id))
        .where(JournalEntry.kind.in_(("payout", "refund", "deposit_refund")), JournalEntry.actor_id.isnot(None))
        .group_by(JournalEntry.reference).having(func.count(JournalEntry.id) > 1)).all()
    assert bank_refs == [], f"bank references used twice: {bank_refs}"


def _deposit_refunded(deal):
    """The part of a refunded deal's price that went back through its applied deposit's payment."""
    if not deal.deposit_credit:
        return 0
    return db.session.execute(select(AuctionDeposit.refunded_with_deal).where(
        AuctionDeposit.deal_id == deal.id)).scalar() or 0


def check_money(deal, b):
    where = f"deal {deal.id} ({deal.state}, {deal.gateway}): {b}"
    refunded_total = (deal.refund_amount or 0) + _deposit_refunded(deal)
    assert min(b.values()) >= 0, where
    assert b["received"] in (0, deal.price), where
    assert b["received"] + b["fee_by_voucher"] == (b["escrow"] + b["seller_payable"] + b["paid_out"]
                                                   + b["platform_fee"] + b["refunded"] + b["refund_in_transit"]), where
    # the vouchers' part of the fee: at most the fee, and only once the fee is charged (released) or while a
    # release is held back (an upheld claim: disputed); nothing once the deal ended unsold
    assert b["fee_by_voucher"] <= (deal.fee or 0), where
    if deal.state not in ("released", "completed", "disputed", "transfer_back"):
        assert b["fee_by_voucher"] == 0, where
    if deal.state in TERMINAL_STATES:
        assert b["escrow"] == 0 and b["seller_payable"] == 0, where
        assert deal.closed_at is not None, where
    else:
        assert deal.closed_at is None, where
    if deal.state in ("awaiting_payment", "cancelled"):
        assert b["received"] == 0 and deal.funded_at is None, where
    if deal.state in HELD_STATES:
        assert b["escrow"] == b["received"] == deal.price and deal.funded_at is not None, where
    if deal.state in ("released", "completed"):
        share = deal.price - refunded_total
        assert b["escrow"] == 0, where
        assert b["platform_fee"] == deal.fee == platform_fee(share, deal.fee_bps), where
        assert b["seller_payable"] + b["paid_out"] == share - deal.fee + b["fee_by_voucher"] == deal.payout_amount, \
            where
        assert b["refunded"] + b["refund_in_transit"] == refunded_total, where
    if deal.state == "completed":
        assert b["paid_out"] == deal.payout_amount and deal.payout_status == "paid", where
    if deal.state == "refunded":
        assert b["refunded"] + b["refund_in_transit"] == deal.price == refunded_total, where
        assert b["platform_fee"] == 0 and b["paid_out"] == 0, where
    if deal.state == "transfer_recorded" or (deal.state == "released" and deal.resolution is None):
        assert deal.recorded_at is not None and deal.inspection_ends_at is not None, where


def check_history(deal, events):
    """The deal's events form one chain from "open" to its present state."""
    assert events and events[0].action == "open", (deal.id, [e.action for e in events[:1]])
    state = None
    for event in events:
        assert event.from_state == state, (deal.id, event.action, event.from_state, state)
        state = event.to_state
    assert state == deal.state, (deal.id, state, deal.state)


def check_listings(deals):
    """A listing is reserved while its deal runs, sold when it completed, otherwise back on the market
    (published), except after a won auction's deal: the auction is closed, so the listing is expired."""
    by_listing = {}
    for deal in deals:
        by_listing.setdefault(deal.listing_id, []).append(deal)
    listings = {row.id: row for row in db.session.execute(
        select(Listing).where(Listing.id.in_(list(by_listing)))).scalars()}
    for listing_id, its_deals in by_listing.items():
        status = listings[listing_id].status
        live = [d for d in its_deals if d.state not in TERMINAL_STATES]
        completed = [d for d in its_deals if d.state == "completed"]
        assert len(live) <= 1, f"listing {listing_id} has two live deals: {[d.id for d in live]}"
        assert len(completed) <= 1, f"listing {listing_id} was sold twice"
        from_auction = any(d.source == "auction" for d in its_deals)
        expected = "reserved" if live else "sold" if completed else "expired" if from_auction else "published"
        assert status == expected, (listing_id, status, [(d.id, d.state) for d in its_deals])


def check_paperwork(deals, events):
    """Issue 15: money arrives only under a contract both parties signed (on its hash), and a transfer
    counts as recorded only after an operator verified the recordal details submitted with the notice."""
    from escrow.paper_models import ContractSignature, DealContract, RecordalDetails

    ids = list(deals)
    contracts = {c.deal_id: c for c in db.session.execute(
        select(DealContract).where(DealContract.deal_id.in_(ids))).scalars()}
    signatures = {}
    for sig in db.session.execute(select(ContractSignature).where(ContractSignature.deal_id.in_(ids))).scalars():
        signatures.setdefault(sig.deal_id, {})[sig.role] = sig
    verified = set(db.session.execute(select(RecordalDetails.deal_id).where(
        RecordalDetails.deal_id.in_(ids), RecordalDetails.status == "verified")).scalars())
    for deal_id in deals:
        signed = signatures.get(deal_id, {})
        for sig in signed.values():
            assert sig.sha256 == contracts[deal_id].sha256, (deal_id, "signed another text")
        chain = events.get(deal_id, [])
        funded_at = next((e.id for e in chain if e.action == "confirm_payment" and e.to_state == "funded"), None)
        if funded_at is not None:
            signed_at = [e.id for e in chain if e.action == "sign_contract"]
            assert set(signed) == {"buyer", "seller"} and len(signed_at) == 2 and max(signed_at) < funded_at, \
                (deal_id, "funded without both signatures", sorted(signed))
        if any(e.to_state == "transfer_recorded" for e in chain):
            assert deal_id in verified, (deal_id, "recorded without a verified recordal")
            assert all(e.action == "verify_recordal" for e in chain if e.to_state == "transfer_recorded"), deal_id


# --- auction deposits (escrow.deposits) -----------------------------------------------------------

# ledger entries a deposit may have (key ``deposit:{id}:<suffix>``) in each status; "settle" is exactly one of
# apply / return / forfeit once the deposit is settled
_DEPOSIT_ENTRIES = {
    "awaiting_payment": (set(), set()),
    "lapsed": (set(), set()),
    "held": ({"fund"}, set()),
    "returning": ({"fund"}, {"return_requested"}),
    "returned": ({"fund", "return"}, {"return_requested"}),
    "applied": ({"fund", "apply"}, set()),
    "forfeited": ({"fund", "forfeit"}, {"payout"}),
}


def check_deposits():
    """Every auction deposit: its ledger entries match its status (paid once; applied, returned or forfeited
    at most once, and exactly once when settled), each moves exactly the deposit, and the ``auction_deposits``
    account holds exactly the deposits not yet settled. Returns ``{deposit_id: AuctionDeposit}``."""
    deposits = {d.id: d for d in db.session.execute(select(AuctionDeposit)).scalars()}
    entries = {}
    for entry in db.session.execute(select(JournalEntry).where(JournalEntry.idempotency_key.like("deposit:%"))).scalars():
        _prefix, deposit_id, suffix = entry.idempotency_key.split(":")
        entries.setdefault(int(deposit_id), {})[suffix] = entry
    assert set(entries) <= set(deposits), f"deposit entries without a deposit: {set(entries) - set(deposits)}"
    expected_held = 0
    for deposit_id, deposit in deposits.items():
        have = entries.get(deposit_id, {})
        must, may = _DEPOSIT_ENTRIES[deposit.status]
        where = f"deposit {deposit_id} ({deposit.status}): {sorted(have)}"
        assert must <= set(have) <= must | may, where
        assert len(set(have) & {"apply", "return", "forfeit"}) <= 1, where
        for suffix, entry in have.items():
            moved = sum(abs(p.amount) for p in entry.postings) // 2
            amount = deposit.payout_amount if suffix == "payout" else deposit.amount
            assert moved == amount, (where, suffix, moved, amount)
            on_deposits = sum(p.amount for p in entry.postings if p.account.code == "auction_deposits")
            assert on_deposits == {"fund": amount, "payout": 0}.get(suffix, 0 if suffix == "return" and "return_requested" in have else -amount), (where, suffix)
        if deposit.status in ("held", "returning") and "return_requested" not in have:
            expected_held += deposit.amount
        if deposit.gateway == "offline" and deposit.status in ("returning", "returned"):
            # a bank return is an instruction in the one refund queue; paid exactly when booked, same reference
            instruction = db.session.execute(select(RefundInstruction).where(
                RefundInstruction.deposit_id == deposit_id)).scalar()
            assert instruction is not None and instruction.amount == deposit.amount, where
            assert (instruction.status == "paid") == (deposit.status == "returned"), where
            if deposit.status == "returned":
                assert instruction.bank_reference == deposit.return_reference == have["return"].reference, where
        if deposit.status == "applied":
            deal = db.session.get(Deal, deposit.deal_id)
            assert deal is not None and deal.deposit_credit == deposit.amount and deal.funded_at is not None, where
            assert have["apply"].deal_id == deal.id, where
        if deposit.status == "forfeited":
            assert deposit.payout_amount + deposit.forfeit_fee == deposit.amount, where
            assert deposit.forfeit_fee == platform_fee(deposit.amount), where
            assert ("payout" in have) == (deposit.payout_status == "paid"), where
            deal = db.session.get(Deal, deposit.deal_id)
            assert deal is not None and deal.state == "cancelled" and deal.funded_at is None, where
    held = db.session.execute(select(func.coalesce(func.sum(Posting.amount), 0)).join(
        LedgerAccount, LedgerAccount.id == Posting.account_id).where(LedgerAccount.code == "auction_deposits")).scalar()
    assert int(held) == expected_held, f"auction_deposits holds {held}, the deposits not settled {expected_held}"
    return deposits


def check_vouchers():
    """Innovation vouchers (finance.vouchers, finance.deal_fees): no voucher used beyond its face value, every
    charge paid exactly by its redemptions and transfer (a deal's fee: by its redemptions and, at release, the
    escrow), and the ledger agrees: per programme, ``voucher_due`` is what its booked, unreimbursed uses paid
    (less reimbursed uses given back since) and ``voucher_paid`` what it reimbursed; a use held for a deal's fee
    is in no account until the release; the platform's revenue from vouchers and charge transfers is exactly
    what they paid (no money created)."""
    from escrow.models import Deal
    from finance.models import ServiceCharge, Voucher, VoucherBatch, VoucherRedemption

    check_ledger()
    redemptions = db.session.execute(select(VoucherRedemption)).scalars().all()
    live = [r for r in redemptions if r.status != "returned"]
    for voucher in db.session.execute(select(Voucher)).scalars():
        used = sum(r.amount for r in live if r.voucher_id == voucher.id)
        assert voucher.used == used, f"voucher {voucher.id}: used {voucher.used} but redeemed {used}"
        assert 0 <= used <= voucher.batch.face_value, f"voucher {voucher.id} used beyond its face value"
        if voucher.batch.single_use:
            assert len([r for r in live if r.voucher_id == voucher.id]) <= 1, f"voucher {voucher.id} reused"
    transfers = 0
    for charge in db.session.execute(select(ServiceCharge)).scalars():
        mine = [r for r in live if r.charge_id == charge.id]
        by_voucher = sum(r.amount for r in mine)
        assert charge.paid_by_voucher == by_voucher, f"charge {charge.id}"
        assert 0 <= charge.paid_by_voucher + charge.paid_by_transfer + charge.paid_from_escrow <= charge.amount, \
            f"charge {charge.id} overpaid"
        transfers += charge.paid_by_transfer
        if charge.deal_id is None:
            assert charge.paid_from_escrow == 0 and all(r.status == "booked" for r in mine), f"charge {charge.id}"
            assert (charge.status == "paid") == (charge.outstanding == 0), f"charge {charge.id} status"
            continue
        deal = db.session.get(Deal, charge.deal_id)
        where = f"deal fee {charge.id} (deal {deal.id} {deal.state}, charge {charge.status})"
        assert charge.paid_by_transfer == 0 and charge.organization_id == deal.organization_id, where
        if charge.status == "paid":  # released: the fee charged, the vouchers' part booked, the rest from escrow
            assert deal.released_at is not None and charge.amount == deal.fee, where
            assert charge.outstanding == 0 and all(r.status == "booked" for r in mine), where
        elif charge.status == "cancelled":  # ended unsold (or no fee charged): every use given back
            assert mine == [], where
        else:
            assert charge.paid_from_escrow == 0, where
    balances = ledger.account_balances()
    for issuer in {b.issuer_organization_id for b in db.session.execute(select(VoucherBatch)).scalars()}:
        ours = [r for r in redemptions if r.voucher.batch.issuer_organization_id == issuer]
        due = -balances.get(ledger.VOUCHER_DUE + str(issuer), {}).get("CNY", 0)
        paid = -balances.get(ledger.VOUCHER_PAID + str(issuer), {}).get("CNY", 0)
        owed = sum(r.amount for r in ours if r.status == "booked" and r.settled_at is None)
        given_back = sum(r.amount for r in ours if r.status == "returned" and r.settled_at is not None)
        assert due == owed - given_back, f"programme {issuer}: due {due}"
        assert paid == sum(r.amount for r in ours if r.settled_at is not None), f"programme {issuer}: paid {paid}"
    revenue = db.session.execute(
        select(func.coalesce(func.sum(Posting.amount), 0)).join(LedgerAccount, LedgerAccount.id == Posting.account_id)
        .join(JournalEntry, JournalEntry.id == Posting.entry_id)
        .where(LedgerAccount.code == "platform_revenue",
               JournalEntry.kind.in_(("voucher_redeem", "voucher_return", "charge_transfer")))
    ).scalar_one()
    booked = sum(r.amount for r in redemptions if r.status == "booked")
    assert revenue == booked + transfers, "voucher revenue differs from what was paid"


def check_royalties(licence_ids=None):
    """Royalty periods (issue 16, ``escrow.royalties``): each period's money is where its status says, booked
    once under its own keys; the fee is the deal's rate on the amount; ``royalty_escrow`` holds exactly the
    periods paid and not yet released, and licensors are owed exactly the released ones (both over the whole
    ledger); a reported amount is what the rule computes from the reports; and a licence year whose last period
    is reported was charged its royalty, and at least its minimum. ``licence_ids``: check those licences'
    periods one by one (default: every licence)."""
    from escrow import royalties
    from escrow.royalty_models import Licence, RoyaltyPeriod

    check_ledger()
    # the whole ledger, in SQL: held = royalty_escrow, released and unpaid = what royalties left in seller_payable
    held = db.session.scalar(select(func.coalesce(func.sum(RoyaltyPeriod.amount), 0))
                             .where(RoyaltyPeriod.status == "held"))
    payable = db.session.scalar(select(func.coalesce(func.sum(RoyaltyPeriod.amount - RoyaltyPeriod.fee), 0))
                                .where(RoyaltyPeriod.status == "released"))

    def royalty_balance(code):
        return db.session.scalar(
            select(func.coalesce(func.sum(Posting.amount), 0)).join(JournalEntry, JournalEntry.id == Posting.entry_id)
            .join(LedgerAccount, LedgerAccount.id == Posting.account_id)
            .where(JournalEntry.idempotency_key.like("royalty:%"), LedgerAccount.code == code))

    assert royalty_balance("royalty_escrow") == held, f"royalty_escrow {royalty_balance('royalty_escrow')} != {held}"
    assert ledger.account_balances().get("royalty_escrow", {}).get("CNY", 0) == held, "royalty_escrow outside royalties"
    assert royalty_balance("seller_payable") == payable, \
        f"royalties owed to licensors {royalty_balance('seller_payable')} != released {payable}"
    query = select(Licence).order_by(Licence.id)
    if licence_ids is not None:
        query = query.where(Licence.id.in_(list(licence_ids)))
    licences = db.session.execute(query).scalars().all()
    periods = [p for licence in licences for p in licence.periods]
    keys = [f"royalty:{p.id}:{k}" for p in periods for k in ("fund", "release", "payout")]
    entries = {e.idempotency_key: e for e in db.session.execute(
        select(JournalEntry).where(JournalEntry.idempotency_key.in_(keys))).scalars()} if keys else {}
    expected = {"open": (), "awaiting_payment": (), "settled": (), "held": ("fund",),
                "released": ("fund", "release"), "paid_out": ("fund", "release", "payout")}
    for p in periods:
        where = f"royalty period {p.id} ({p.status})"
        booked = tuple(k for k in ("fund", "release", "payout") if f"royalty:{p.id}:{k}" in entries)
        assert booked == expected[p.status], f"{where}: booked {booked}"
        for key in booked:
            entry = entries[f"royalty:{p.id}:{key}"]
            amounts = {post.account.code: post.amount for post in entry.postings}
            if key == "fund":
                assert amounts["royalty_escrow"] == p.amount > 0, where
            elif key == "release":
                assert amounts.get("platform_revenue", 0) == p.fee, where
                assert p.fee == platform_fee(p.amount, p.licence.deal.fee_bps), f"{where}: fee"
                assert amounts["seller_payable"] == p.amount - p.fee, where
            else:
                assert amounts["seller_payouts"] == p.amount - p.fee, where
        if p.status == "settled":
            assert p.amount == 0, where
    for licence in licences:
        if not licence.royalty_bps:
            continue
        for p in licence.periods:
            if p.kind == "running" and p.net_sales is not None:
                assert p.amount == royalties.due_for(licence, p, p.net_sales), f"royalty period {p.id}: amount"
        years = {}
        for p in licence.periods:
            if p.kind == "running":
                years.setdefault(p.licence_year, []).append(p)
        for year, rows in years.items():
            if rows[-1].net_sales is None:
                continue
            charged = sum(p.amount for p in rows) + (licence.upfront_fee if licence.advance_credit and year == 1
                                                     else 0)
            royalty = sum(royalties.royalty_of(p.net_sales, licence.royalty_bps) for p in rows)
            want = max(royalty, licence.yearly_minimum or 0)
            if licence.advance_credit and year == 1:
                want = max(want, licence.upfront_fee)
            assert charged == want, f"licence {licence.id} year {year}: charged {charged}, owed {want}"
