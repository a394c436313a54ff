"""Money is integer fen with a currency code. No floats anywhere."""


def format_yuan(fen, currency="CNY"):
    """¥12,345.67; amounts of 10万 and more as 万元 (¥12.35万)."""
    if fen is None:
        return "面议"
    sign = "-" if fen < 0 else ""
    fen = abs(int(fen))
    symbol = "¥" if currency == "CNY" else currency + " "
    if fen >= 100_000_00:  # 10万元 and above
        wan_hundredths = (fen + 50_00) // 100_00  # 万元 to two decimals, half-up
        whole, frac = divmod(wan_hundredths, 100)
        text = f"{whole:,}" if frac == 0 else f"{whole:,}.{frac:02d}".rstrip("0")
        return f"{sign}{symbol}{text}万"
    yuan, cents = divmod(fen, 100)
    return f"{sign}{symbol}{yuan:,}" + (f".{cents:02d}" if cents else "")


def parse_yuan(raw) -> int:
    """Parse a yuan amount typed by a person ("12,000.50") into fen; raise ValueError (``numbers.NumberError``).

    Bounded: ASCII digits, at most two decimals and 15 digits of yuan; no exponent, NaN or infinity."""
    from .numbers import parse_amount

    return parse_amount(raw if isinstance(raw, str) else str(raw))
