"""The platform fee, computed in one place.

Rule: ``PLATFORM_FEE_BPS`` basis points of the deal price, in fen, rounded half-up
(an exact half fen goes up). Paid by the seller out of the payout.

The rate is fixed when a deal opens (``Deal.fee_bps``): release, payout and a split always
use the deal's own rate, never the current setting, so changing ``PLATFORM_FEE_BPS`` only
affects deals opened afterwards (docs/payments.md "Fees"). ``quote`` is what every page and
API response shows before anyone commits: the buyer pays the price, the seller receives the
price less the fee.
"""
from flask import current_app


def current_bps() -> int:
    return int(current_app.config["PLATFORM_FEE_BPS"])


def platform_fee(price_fen: int, bps: int | None = None) -> int:
    if bps is None:
        bps = current_bps()
    return (price_fen * bps + 5_000) // 10_000


def deal_fee(deal, share_fen: int | None = None) -> int:
    """The fee on ``share_fen`` (the whole price by default) at the rate the deal opened with."""
    return platform_fee(deal.price if share_fen is None else share_fen, deal.fee_bps)


def quote(price_fen, bps: int | None = None) -> dict | None:
    """What a price means for both sides: ``{price, fee_bps, fee, seller_net}`` in fen (``None`` for no price).

    The buyer pays ``price`` (the fee is not added on top); the seller receives ``seller_net``
    = price − fee. Without ``bps`` the current setting applies: the rate a deal opened now gets.
    """
    if not isinstance(price_fen, int) or isinstance(price_fen, bool) or price_fen <= 0:
        return None
    bps = current_bps() if bps is None else bps
    fee = platform_fee(price_fen, bps)
    return {"price": price_fen, "fee_bps": bps, "fee": fee, "seller_net": price_fen - fee}
