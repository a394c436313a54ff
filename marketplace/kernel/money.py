"""Money is integer fen with a currency code. No floats anywhere."""
from flask_babel import get_locale, gettext
from flask_babel import gettext as _

from .numbers import _YUAN, _YUAN_NOISE, MAX_YUAN_DIGITS, NumberError, _text, parse_amount


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


def display_yuan(fen, currency="CNY", locale=None):
    """``format_yuan`` for a page in the reader's language: 万 in Chinese, plain thousands in English ("¥220,000",
    not "¥22万"). ``locale`` defaults to the request's (Flask-Babel); outside a request, Chinese."""
    if locale is None:
        try:
            locale = str(get_locale() or "zh")
        except (RuntimeError, AttributeError):  # no app or request context
            locale = "zh"
    if fen is None:
        return gettext("面议")
    if not str(locale).startswith("en"):
        return format_yuan(fen, currency)
    sign = "-" if fen < 0 else ""
    yuan, cents = divmod(abs(int(fen)), 100)
    symbol = "¥" if currency == "CNY" else currency + " "
    return f"{sign}{symbol}{yuan:,}" + (f".{cents:02d}" if cents else "")


def yuan_input(fen):
    """Fen as a person would type it back into an amount field: "1100", "1100.5" ("" for none)."""
    if not fen:
        return ""
    yuan, cents = divmod(int(fen), 100)
    return str(yuan) if not cents else f"{yuan}.{cents:02d}".rstrip("0")


WAN_SUFFIXES = ("万元", "万")  # "26万", "26.5 万", "26万元": ten thousand yuan
_WAN_DECIMALS = 6  # 1万元 = 1,000,000 fen: six decimals reach the fen


def parse_yuan(raw) -> int:
    """An amount typed by a person → integer fen; raise ValueError (``numbers.NumberError``) with one reason.

    Yuan as ``numbers.parse_amount`` reads it ("12,000.50", "¥500"), or ten-thousands of yuan with a 万 or 万元
    suffix ("26万", "26.5 万", "￥1,200万元"), exact to the fen (at most six decimals before 万). The one parser of
    typed money: the listing form, the offer/bid/counter forms, the operators' amount fields, the CSV import.
    Bounded like ``parse_amount``: the length is checked before any other work.
    """
    text = _text(raw if isinstance(raw, str) else str(raw))
    for suffix in WAN_SUFFIXES:
        if text.endswith(suffix):
            number = text[: -len(suffix)].strip()
            break
    else:
        return parse_amount(text)
    # The yuan reading's digits, shifted by 万: the number part may carry up to six decimals.
    match = _YUAN.fullmatch(number.translate(_YUAN_NOISE))
    if not match or not (match.group(2) or match.group(3)):
        raise NumberError(_("不是有效的金额"))
    sign, whole, frac = match.group(1), match.group(2).lstrip("0"), (match.group(3) or "").rstrip("0")
    if len(whole) > MAX_YUAN_DIGITS - 4:
        raise NumberError(_("金额过大（最多 %(n)s 位整数）", n=MAX_YUAN_DIGITS))
    if len(frac) > _WAN_DECIMALS:
        raise NumberError(_("以“万”为单位时最多六位小数（精确到分）"))
    fen = int(whole or "0") * 1_000_000 + int(frac.ljust(_WAN_DECIMALS, "0"))
    return -fen if sign == "-" else fen
