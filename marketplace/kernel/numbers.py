"""Bounded number parsing: every amount, count, id and page number that comes from outside
(form, JSON, CSV, query string) goes through here.

Why not ``int()``, ``float()`` or ``Decimal()`` on the text:

* ``int("１２３")`` and ``int("٣")`` accept any Unicode decimal digit, ``int("1_000")`` takes
  underscores, and ``"²".isdigit()`` is true while ``int("²")`` raises;
* ``int()`` on a long digit string costs time quadratic in its length (CPython stops at 4,300
  digits with a ValueError, which callers did not expect);
* ``float()`` and ``Decimal()`` accept ``nan``, ``inf``, ``Infinity`` and exponents
  (``Decimal("1e999999999")`` is cheap, ``int()`` of it is not; ``int(Decimal("Infinity"))``
  raises OverflowError).

So numbers are plain ASCII digits, at most :data:`MAX_DIGITS` significant ones, the text at
most :data:`MAX_NUMBER_CHARS` characters, never an exponent, NaN or infinity, and the check
on the length comes before any other work. Errors are :class:`NumberError`, a ``ValueError``
carrying a translated reason (callers put it beside the field they parsed).
"""
import math
import re
from decimal import Decimal

from flask_babel import gettext as _

MAX_DIGITS = 18  # significant digits of an integer: < 10**18 < 2**63 (BIGINT), far above any price in fen
MAX_YUAN_DIGITS = 15  # digits before the decimal point of a yuan amount (MAX_PRICE is 10**12 yuan)
MAX_PAGE = 1000  # page numbers of HTML lists past this are the first page (search has its own MAX_PAGE, equal)
MAX_ID = 2**31 - 1  # ids are INTEGER columns (int4 on PostgreSQL)
MAX_NUMBER_CHARS = 40  # the whole text as typed: sign, separators, spaces, decimals
_INT = re.compile(r"([+-]?)([0-9]+)", re.ASCII)
_YUAN = re.compile(r"([+-]?)([0-9]*)(?:\.([0-9]*))?", re.ASCII)
_YUAN_NOISE = str.maketrans("", "", ",，¥￥ ")  # thousands separators (ASCII and full-width comma), currency signs


class NumberError(ValueError):
    """A number that is not one, or too long; ``str(exc)`` is the translated reason."""


def _text(raw):
    if not isinstance(raw, str):
        raise NumberError(_("应为数字"))
    text = raw.strip()
    if len(text) > MAX_NUMBER_CHARS:
        raise NumberError(_("数字过长（最多 %(n)s 位）", n=MAX_DIGITS))
    return text


def parse_int(raw, *, minimum=None, maximum=None, max_digits=MAX_DIGITS):
    """An integer from text (ASCII digits, optional sign) or from JSON (int, or a float with no fraction).

    Raises NumberError for anything else: empty text, Unicode digits, exponents, NaN, infinity, bool,
    more than ``max_digits`` significant digits, or a value outside ``minimum``/``maximum``.
    """
    if isinstance(raw, bool):
        raise NumberError(_("应为整数"))
    if isinstance(raw, int):
        value = raw
        if value.bit_length() > 4 * max_digits:  # cheap: no decimal conversion of a huge int
            raise NumberError(_("数字过长（最多 %(n)s 位）", n=max_digits))
    elif isinstance(raw, float):
        if not math.isfinite(raw) or not raw.is_integer():
            raise NumberError(_("应为整数"))
        if abs(raw) >= 10.0 ** max_digits:
            raise NumberError(_("数字过长（最多 %(n)s 位）", n=max_digits))
        value = int(raw)
    else:
        text = _text(raw)
        match = _INT.fullmatch(text)
        if not match:
            raise NumberError(_("应为整数"))
        sign, digits = match.groups()
        digits = digits.lstrip("0") or "0"
        if len(digits) > max_digits:
            raise NumberError(_("数字过长（最多 %(n)s 位）", n=max_digits))
        value = -int(digits) if sign == "-" else int(digits)
    if len(str(abs(value))) > max_digits:
        raise NumberError(_("数字过长（最多 %(n)s 位）", n=max_digits))
    if minimum is not None and value < minimum:
        raise NumberError(_("不能小于 %(n)s", n=minimum))
    if maximum is not None and value > maximum:
        raise NumberError(_("不能大于 %(n)s", n=maximum))
    return value


def parse_amount(raw, *, max_yuan_digits=MAX_YUAN_DIGITS):
    """A yuan amount as typed by a person ("12,000.50", "¥500", "８" refused) → integer fen.

    ASCII digits, at most two decimals (further zeros are allowed: "1.500"), thousands separators
    and a currency sign are ignored, an optional sign is kept (callers refuse amounts ≤ 0 themselves).
    No exponent, NaN or infinity; at most ``max_yuan_digits`` digits before the point.
    """
    text = _text(raw).translate(_YUAN_NOISE)
    match = _YUAN.fullmatch(text)
    if not match or not (match.group(2) or match.group(3)):
        raise NumberError(_("不是有效的金额"))
    sign, whole, frac = match.group(1), match.group(2).lstrip("0"), (match.group(3) or "").rstrip("0")
    if len(whole) > max_yuan_digits:
        raise NumberError(_("金额过大（最多 %(n)s 位整数）", n=max_yuan_digits))
    if len(frac) > 2:
        raise NumberError(_("金额最多两位小数"))
    fen = int(whole or "0") * 100 + int(frac.ljust(2, "0"))
    return -fen if sign == "-" else fen


def parse_decimal(raw, *, max_digits=MAX_DIGITS, max_decimals=6):
    """A plain decimal number ("7", "7.5", "-0.25") as a Decimal: ASCII digits and one point, no exponent,
    NaN or infinity, at most ``max_digits`` before the point and ``max_decimals`` after it."""
    text = _text(raw)
    match = _YUAN.fullmatch(text)
    if not match or not (match.group(2) or match.group(3)):
        raise NumberError(_("应为数字"))
    if len(match.group(2).lstrip("0")) > max_digits:
        raise NumberError(_("数字过长（最多 %(n)s 位）", n=max_digits))
    if len(match.group(3) or "") > max_decimals:
        raise NumberError(_("最多 %(n)s 位小数", n=max_decimals))
    return Decimal(text)


def int_field(raw, fields, key, *, required=False, minimum=None, maximum=None, max_digits=MAX_DIGITS):
    """``parse_int`` for a validator that collects errors: None (and ``fields[key]`` set) when refused.
    Missing (None or blank) is None, or "必填" when ``required``."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        if required:
            fields[key] = _("必填")
        return None
    try:
        return parse_int(raw, minimum=minimum, maximum=maximum, max_digits=max_digits)
    except NumberError as exc:
        fields[key] = str(exc)
        return None


def query_int(args, key, default=None, *, minimum=None, maximum=None):
    """A number from a query string where a bad one means "use the default" (page numbers, filters in links
    that are shown, not trusted): never raises."""
    raw = args.get(key)
    if raw is None:
        return default
    try:
        return parse_int(raw, minimum=minimum, maximum=maximum)
    except NumberError:
        return default


# --- JSON ------------------------------------------------------------------------------------------


class RefusedJSON(ValueError):
    """A request body that is JSON Python would parse but the API does not take."""


class JSONNumberError(RefusedJSON):
    """A JSON number the API will not take: NaN, Infinity, or one beyond the bounds."""


def loads_bounded(loads, text, **kwargs):
    """``loads(text)`` with the number bounds; nesting beyond the interpreter's recursion limit (json raised
    RecursionError, a 500: ``[[[[…]]]]``) is a RefusedJSON too."""
    try:
        return loads(text, **{**JSON_LOAD_OPTIONS, **kwargs})
    except RecursionError:
        raise RefusedJSON(_("JSON 嵌套过深")) from None


def _json_constant(name):
    raise JSONNumberError(_("JSON 中不允许 %(name)s（NaN 和 Infinity 不是数字）", name=name))


def _json_int(text):
    if len(text.lstrip("-").lstrip("0")) > MAX_DIGITS:
        raise JSONNumberError(_("JSON 中的数字过长（最多 %(n)s 位）", n=MAX_DIGITS))
    return int(text)


def _json_float(text):
    value = float(text) if len(text) <= MAX_NUMBER_CHARS else math.inf
    if not math.isfinite(value) or abs(value) >= 10.0 ** MAX_DIGITS:
        raise JSONNumberError(_("JSON 中的数字过长或超出范围：%(text)s", text=text[:MAX_NUMBER_CHARS]))
    return value


JSON_LOAD_OPTIONS = {"parse_constant": _json_constant, "parse_int": _json_int, "parse_float": _json_float}
