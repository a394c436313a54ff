"""Payment references for bank transfers: ``IPM`` + the deal id (8 digits) + two check digits.

The check digits follow ISO 7064 MOD 97-10 (as in IBAN): the 10 digits, read as a
number, leave remainder 1 when divided by 97, so a mistyped digit or two swapped
digits in a bank transfer's memo are caught before money is matched to a deal.
"""
import re

PREFIX = "IPM"
_SHAPE = re.compile(r"^IPM(\d{8})(\d{2})$")


def payment_reference(deal_id: int, prefix: str = PREFIX) -> str:
    """``IPM…`` for a deal; auction deposits use ``IPD…`` (``escrow.deposits``) with the same check digits."""
    body = f"{deal_id:08d}"
    check = 98 - (int(body) * 100) % 97
    return f"{prefix}{body}{check:02d}"


def normalise(raw) -> str:
    """Upper case, without spaces, dashes or full-width characters people type into bank memos."""
    text = raw.upper() if isinstance(raw, str) else ""
    text = text.translate({ord(c): None for c in " -_\u3000"})
    return text.translate({0xFF10 + i: ord("0") + i for i in range(10)})


def is_valid(reference: str, prefix: str = PREFIX) -> bool:
    reference = reference or ""
    if not reference.startswith(prefix):
        return False
    match = _SHAPE.match(PREFIX + reference[len(prefix):])
    return bool(match) and int(match.group(1) + match.group(2)) % 97 == 1


def deal_id_of(reference: str):
    """The deal id a valid reference names, or None."""
    return int(reference[3:11]) if is_valid(reference) else None
