"""The platform fee, computed in one place.

Rule: ``PLATFORM_FEE_BPS`` basis points of the deal price, in fen, rounded half-up
(an exact half fen goes up). Paid by the seller out of the payout.
"""
from flask import current_app


def platform_fee(price_fen: int, bps: int | None = None) -> int:
    if bps is None:
        bps = current_app.config["PLATFORM_FEE_BPS"]
    return (price_fen * bps + 5_000) // 10_000
