"""The books' invariants, read from the database: shared by the state machine and the crash test.

``check_books(deal_ids)`` asserts, for the whole ledger and for the given deals:

* every journal entry balances per currency and has at least two postings;
* no escrow, payable or in-transit balance is negative;
* money received = released to sellers (payable + paid out) + platform fees + refunded
  (+ in transit) + still held in escrow, per deal and in total;
* each state holds what it should (terminal: nothing in escrow, nothing owed to the seller);
* the deal's events form one chain from "open" to its state;
* a listing is reserved while its deal runs, sold when it completed, otherwise published again
  (expired when its deal came from its auction, which is closed), and never has two live deals.

It returns ``{deal_id: Deal}``. A won auction's deposit applied to its deal counts as received by the deal
(``auction_deposits`` → the deal's escrow); ``check_deposits()`` checks every auction deposit: its money is
where its status says, and it was applied, returned or forfeited exactly once.
"""
from sqlalchemy import func, select

from escrow import ledger
from escrow.fees import platform_fee
from escrow.models import TERMINAL_STATES, Deal, DealEvent, JournalEntry, LedgerAccount, Posting
from listings.models import AuctionDeposit, Listing
from marketplace.extensions import db

HELD_STATES = ("funded", "transfer_filed", "transfer_recorded", "disputed")
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
        unknown = set(accounts) - set(NAMES) - clearing
        assert not unknown, f"deal {deal_id} has postings on unexpected accounts {unknown}"
        b = {name: accounts.get(code, 0) for code, name in NAMES.items()}
        b["received"] = -sum(accounts[k] for k in clearing)
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
    totals = dict.fromkeys(NAMES.values(), 0) | {"received": 0}
    for deal_id, deal in deals.items():
        b = balances[deal_id]
        for key in totals:
            totals[key] += b[key]
        check_money(deal, b)
        check_history(deal, events.get(deal_id, []))
    assert totals["received"] == (totals["escrow"] + totals["seller_payable"] + totals["paid_out"]
                                  + totals["platform_fee"] + totals["refunded"] + totals["refund_in_transit"])
    check_listings(deals.values())
    return deals


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
    assert b["received"] == (b["escrow"] + b["seller_payable"] + b["paid_out"] + b["platform_fee"]
                             + b["refunded"] + b["refund_in_transit"]), where
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
        assert b["platform_fee"] == deal.fee == platform_fee(share), where
        assert b["seller_payable"] + b["paid_out"] == share - deal.fee == deal.payout_amount, where
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
