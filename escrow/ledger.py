"""The double-entry ledger: who is owed what, fen by fen.

Sign convention: a posting's amount is positive when value moves INTO the account
and negative when it leaves; every journal entry's postings sum to zero per
currency (checked here, and by the database at commit: ``escrow.ledger_guards``).
External accounts stand for the world outside the platform: ``gateway_clearing:*``
is where buyers' money comes from (it goes negative as money arrives), while
``seller_payouts`` and ``buyer_refunds`` collect what left the platform.

A deal's money moves like this (P = price, F = fee, S = seller's share)::

    fund      gateway_clearing:<gw> -P   escrow +P
    release   escrow -S                  seller_payable +(S-F)   platform_revenue +F
              (with innovation vouchers paying A of the fee: seller_payable +(S-F+A), platform_revenue +(F-A),
               and voucher_due:<issuer> -A, platform_revenue +A: finance.deal_fees)
    payout    seller_payable -(S-F)      seller_payouts +(S-F)
    refund    escrow -R                  buyer_refunds +R           (R = P - S)
    (a refund the provider has not confirmed yet goes escrow → refunds_in_transit first,
     and refunds_in_transit → buyer_refunds when it is confirmed)

Auction deposits (``escrow.deposits``) are held in ``auction_deposits`` until they are applied to
the won auction's deal (→ its ``escrow``, which then counts them as received), returned
(→ ``buyer_refunds``) or forfeited (→ ``seller_payable`` and ``platform_revenue``).

Every entry has a unique idempotency key (``deal:42:fund``): posting a key twice
books nothing the second time. Postings are never edited; corrections are
reversing entries. Balances are always derived by summing postings.
"""
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite

from marketplace.kernel.extensions import db
from marketplace.kernel.i18n import N_
from marketplace.kernel.messages import label, msg, render, stored
from marketplace.kernel.timeutil import utcnow

from .models import JournalEntry, LedgerAccount, Posting

ACCOUNTS = {
    # code: (name, kind)
    "escrow": (N_("交易托管资金"), "internal"),
    "seller_payable": (N_("应付卖方款项"), "internal"),
    "platform_revenue": (N_("平台服务费收入"), "internal"),
    "refunds_in_transit": (N_("退款在途"), "internal"),
    "seller_payouts": (N_("已付卖方"), "external"),
    "buyer_refunds": (N_("已退买方"), "external"),
    "auction_deposits": (N_("竞拍保证金托管"), "internal"),  # held for bidders until applied, returned or forfeited
    "royalty_escrow": (N_("许可使用费托管"), "internal"),  # royalty periods held until released (escrow.royalties)
}
GATEWAY_CLEARING = "gateway_clearing:"
# Innovation vouchers (finance.vouchers): a programme's redeemed vouchers it has not reimbursed yet, and what it
# has reimbursed (both external, per issuing organisation, negative as the programme's money comes in).
VOUCHER_DUE = "voucher_due:"
VOUCHER_PAID = "voucher_paid:"


class UnbalancedEntry(ValueError):
    """A programming error: the postings given for one entry do not sum to zero per currency."""


@dataclass(frozen=True)
class Leg:
    account: str
    amount: int


def account_name(code):
    """An account's name as a message (``marketplace.kernel.messages``): per-gateway and per-issuer accounts name
    their gateway or issuer."""
    if code.startswith(GATEWAY_CLEARING):
        from .gateways import label as gateway_label

        return msg(N_("支付通道清算（%(gateway)s）"), gateway=label(gateway_label(code[len(GATEWAY_CLEARING):])))
    if code.startswith(VOUCHER_DUE):
        return msg(N_("创新券待兑付（发放机构 #%(id)s）"), id=code[len(VOUCHER_DUE):])
    if code.startswith(VOUCHER_PAID):
        return msg(N_("创新券已兑付（发放机构 #%(id)s）"), id=code[len(VOUCHER_PAID):])
    if code not in ACCOUNTS:
        raise ValueError(f"unknown ledger account {code!r}")
    return msg(ACCOUNTS[code][0])


def account_label(code):
    """The account's name in the reader's language (the deal page's ledger)."""
    return render(account_name(code))


def account_meta(code):
    """``(name, kind)``: the name in Chinese as ``ledger_accounts.name`` stores it."""
    if code.startswith((GATEWAY_CLEARING, VOUCHER_DUE, VOUCHER_PAID)):
        return str(account_name(code)), "external"
    if code not in ACCOUNTS:
        raise ValueError(f"unknown ledger account {code!r}")
    return ACCOUNTS[code]


def clearing_account(gateway_name):
    return GATEWAY_CLEARING + gateway_name


def _account_id(code):
    """The account's id, creating the row on first use (safe when two transactions race)."""
    session = db.session
    found = session.execute(select(LedgerAccount.id).where(LedgerAccount.code == code)).scalar()
    if found is not None:
        return found
    name, kind = account_meta(code)
    dialect = session.get_bind().dialect.name
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(LedgerAccount)
    session.execute(insert.values(code=code, name=name, kind=kind).on_conflict_do_nothing(index_elements=["code"]))
    return session.execute(select(LedgerAccount.id).where(LedgerAccount.code == code)).scalar_one()


def find_entry(key):
    return db.session.execute(select(JournalEntry).where(JournalEntry.idempotency_key == key)).scalar()


def post(key, kind, legs, *, deal=None, currency="CNY", memo="", reference=None, actor=None, now=None):
    """Book one journal entry under idempotency ``key``; return ``(entry, created)``.

    ``memo``: a ``marketplace.kernel.messages.Message`` (shown in the reader's language) or plain text.

    If an entry with ``key`` exists, nothing is booked and ``(existing, False)`` is
    returned: a replayed webhook or a retried request cannot book twice. The caller
    holds the deal's row lock, so two bookings of one deal never race; the unique key
    is the database's backstop.
    """
    existing = find_entry(key)
    if existing is not None:
        return existing, False
    legs = [leg for leg in legs if leg.amount != 0]
    if len(legs) < 2 or sum(leg.amount for leg in legs) != 0:
        raise UnbalancedEntry(f"entry {key} does not balance: {legs}")
    memo_text, memo_msg = stored(memo)
    entry = JournalEntry(idempotency_key=key, kind=kind, deal_id=deal.id if deal is not None else None,
                         memo=(memo_text or "")[:300], memo_msg=memo_msg, reference=reference, actor_id=getattr(actor, "id", None),
                         created_at=now or utcnow())
    db.session.add(entry)
    db.session.flush()
    for leg in legs:
        db.session.add(Posting(entry_id=entry.id, account_id=_account_id(leg.account), amount=leg.amount,
                               currency=currency, deal_id=entry.deal_id))
    db.session.flush()
    return entry, True


def account_balances(deal_id=None):
    """``{account code: {currency: balance}}`` summed from postings (of one deal, or of everything)."""
    query = (select(LedgerAccount.code, Posting.currency, func.sum(Posting.amount))
             .join(LedgerAccount, LedgerAccount.id == Posting.account_id)
             .group_by(LedgerAccount.code, Posting.currency))
    if deal_id is not None:
        query = query.where(Posting.deal_id == deal_id)
    result = {}
    for code, currency, total in db.session.execute(query):
        result.setdefault(code, {})[currency] = int(total)
    return result


def deal_balances(deal):
    """The deal's balances in its own currency, as GET /deals/{id}/ledger shows them.

    ``escrow``: held for the deal now; ``seller_payable``: owed to the seller, not paid
    out yet; ``platform_fee``: the platform's fee; ``refunded``: returned to the buyer;
    plus ``received`` (paid in), ``paid_out`` (paid to the seller), ``refund_in_transit`` and
    ``fee_by_voucher`` (the part of the fee innovation vouchers paid: ``finance.deal_fees``) so that every
    fen is accounted for:
    received + fee_by_voucher = escrow + seller_payable + platform_fee + paid_out + refunded + refund_in_transit.
    """
    raw = account_balances(deal.id)

    def bal(code):
        return raw.get(code, {}).get(deal.currency, 0)

    # paid in through the gateways, plus a won auction's deposit applied to the deal (escrow.deposits)
    received = -sum(v.get(deal.currency, 0) for k, v in raw.items()
                    if k.startswith(GATEWAY_CLEARING) or k == "auction_deposits")
    return {
        "escrow": bal("escrow"),
        "seller_payable": bal("seller_payable"),
        "platform_fee": bal("platform_revenue"),
        "refunded": bal("buyer_refunds"),
        "refund_in_transit": bal("refunds_in_transit"),
        "paid_out": bal("seller_payouts"),
        "received": received,
        "fee_by_voucher": -sum(v.get(deal.currency, 0) for k, v in raw.items() if k.startswith(VOUCHER_DUE)),
    }


def deal_entries(deal_id):
    return db.session.execute(
        select(JournalEntry).where(JournalEntry.deal_id == deal_id).order_by(JournalEntry.id)
    ).scalars().all()


def unbalanced_entries():
    """Ids of entries whose postings do not sum to zero in some currency (should always be empty)."""
    query = (select(Posting.entry_id).group_by(Posting.entry_id, Posting.currency)
             .having(func.sum(Posting.amount) != 0))
    return sorted({row[0] for row in db.session.execute(query)})
