"""Unified Social Credit Code (统一社会信用代码, GB 32100-2015).

18 characters from ``0-9A-HJ-NPQRTUWXY`` (no I, O, Z, S, V); the 18th is a check
character: weights 3^(i-1) mod 31 over the first 17, check = (31 - sum mod 31) mod 31.
Lives in the kernel because accounts validate it; ``listings.identifiers`` re-exports it.
"""
import re

from flask_babel import gettext as _

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = [pow(3, i, 31) for i in range(17)]  # 1, 3, 9, 27, 19, 26, ...
_SHAPE = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$")


class InvalidUSCC(ValueError):
    pass


def uscc_check_char(first17: str) -> str:
    total = sum(ALPHABET.index(c) * w for c, w in zip(first17, WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def normalize_uscc(raw: str) -> str:
    """Return the canonical code (upper case, no spaces) or raise InvalidUSCC with a reason."""
    code = re.sub(r"[\s-]", "", str(raw or "")).upper()
    if len(code) != 18:
        raise InvalidUSCC(_("统一社会信用代码应为18位，实际为%(n)s位", n=len(code)))
    bad = sorted({c for c in code if c not in ALPHABET})
    if bad:
        raise InvalidUSCC(_("含有不允许的字符：%(chars)s（不使用I、O、Z、S、V）", chars="".join(bad)))
    if not _SHAPE.match(code):
        raise InvalidUSCC(_("第3至8位应为行政区划代码（数字）"))
    expected = uscc_check_char(code[:17])
    if code[17] != expected:
        raise InvalidUSCC(_("校验位错误：应为 %(expected)s，实际为 %(actual)s", expected=expected, actual=code[17]))
    return code
