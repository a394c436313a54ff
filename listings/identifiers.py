"""Identifiers and classification codes: validated on input, normalised on save (docs/design.md).

One module used by forms, the API, the CSV import and accounts alike. Every
``normalize_*`` function returns the canonical form or raises ``InvalidIdentifier``
whose message is a human reason in the user's language (Chinese by default) (for a bad check character: the
expected character). Callers attach the field name.
"""
import re
from datetime import date

from flask_babel import gettext as _

from marketplace.kernel import labels
from marketplace.kernel.uscc import InvalidUSCC, normalize_uscc, uscc_check_char  # noqa: F401  (re-exported)

from .classifications import LOCARNO_CLASSES, ipc_scheme, nice_classes, similar_groups


class InvalidIdentifier(ValueError):
    """A malformed identifier or code; ``str(exc)`` is the reason shown beside the field."""


# --- CN patent application numbers ---------------------------------------

# The type digit: 1 invention, 2 utility model, 3 design, 8 PCT invention, 9 PCT utility model.
TYPE_DIGITS = {"1": "invention", "2": "utility_model", "3": "design", "8": "invention", "9": "utility_model"}
PATENT_TYPE_LABELS = labels.PATENT_TYPE
_WEIGHTS = (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5)
_PREFIX = re.compile(r"^(?:CN|ZL)+")
FIRST_NEW_FORMAT_YEAR = 2003  # 12-digit numbers from 1 October 2003
FIRST_OLD_FORMAT_YEAR = 1989  # 8 digits + check character from 1989


def patent_check_char(digits: str) -> str:
    """Check character for the 8 or 12 digits before the dot: weights 2..9,2..5, sum mod 11, 10 → X."""
    total = sum(int(d) * w for d, w in zip(digits, _WEIGHTS[: len(digits)], strict=True))
    remainder = total % 11
    return "X" if remainder == 10 else str(remainder)


def normalize_application_number(raw, today=None):
    """Return ``(canonical, patent_type)`` for a CN application number or raise InvalidIdentifier.

    Accepts ``CN``/``ZL`` prefixes, spaces and a missing dot (``ZL 2017 1 0601862.3``,
    ``CN2017106018623``); stores ``201710601862.3`` (or ``98123456.X`` for 1989–2003).
    """
    text = re.sub(r"[\s\u3000]", "", str(raw or "")).upper().replace("．", ".")
    if not text:
        raise InvalidIdentifier(_("必填"))
    text = _PREFIX.sub("", text)
    if "." in text:
        digits, _sep, check = text.partition(".")
        if len(check) != 1:
            raise InvalidIdentifier(_("小数点后应为一位校验位（0–9 或 X）"))
    else:
        if len(text) in (12, 8) and _digits(text):
            raise InvalidIdentifier(_("缺少校验位：应为 %(number)s", number=f"{text}.{patent_check_char(text)}"))
        digits, check = text[:-1], text[-1:]
    if not _digits(digits) or len(digits) not in (8, 12):
        raise InvalidIdentifier(_("格式应为 YYYYTNNNNNNN.C（2003年起，12位数字加校验位）"
                                  "或 YYTNNNNN.C（1989–2003年，8位数字加校验位）"))
    if check not in "0123456789X":
        raise InvalidIdentifier(_("校验位只能是 0–9 或 X"))
    today = today or date.today()
    if len(digits) == 12:
        year, type_digit = int(digits[:4]), digits[4]
        if not FIRST_NEW_FORMAT_YEAR <= year <= today.year:
            raise InvalidIdentifier(_("申请年份 %(year)s 不在 %(first)s–%(last)s 之间", year=year,
                                    first=FIRST_NEW_FORMAT_YEAR, last=today.year))
    else:
        year, type_digit = 1900 + int(digits[:2]), digits[2]
        if year < 1950:
            year += 100
        if not FIRST_OLD_FORMAT_YEAR <= year <= FIRST_NEW_FORMAT_YEAR:
            raise InvalidIdentifier(_("8位申请号的年份 %(year)s 不在 1989–2003 之间（2003年10月起为12位）", year=year))
    if type_digit not in TYPE_DIGITS:
        raise InvalidIdentifier(_("第%(position)s位是专利类型，应为 1、2、3、8 或 9，实际为 %(actual)s",
                                    position=5 if len(digits) == 12 else 3, actual=type_digit))
    expected = patent_check_char(digits)
    if check != expected:
        raise InvalidIdentifier(_("校验位错误：应为 %(expected)s，实际为 %(actual)s", expected=expected, actual=check))
    return f"{digits}.{check}", TYPE_DIGITS[type_digit]


def application_year(canonical):
    digits = canonical.split(".")[0]
    if len(digits) == 12:
        return int(digits[:4])
    year = 1900 + int(digits[:2])
    return year + 100 if year < 1950 else year


# --- trademarks -------------------------------------------------------------

def is_madrid(number):
    """A Madrid international registration extended to China (``G`` + digits), not a CN registration."""
    return isinstance(number, str) and number.startswith("G")


def normalize_registration_number(raw):
    """A CN trademark registration number: digits only (today 7–9; older marks fewer). Accepts 第…号.

    A Madrid international registration designating China is ``G`` followed by its WIPO number
    (``G1234567``, also written ``G 1234567`` or ``g1234567``); it is stored as ``G1234567``.
    """
    text = re.sub(r"[\s\u3000,，]", "", str(raw or ""))
    text = text.removeprefix("第").removesuffix("号")
    if not text:
        raise InvalidIdentifier(_("必填"))
    if text[:1] in ("G", "g"):
        digits = text[1:]
        if not _digits(digits) or not 1 <= len(digits) <= 8 or digits.startswith("0"):
            raise InvalidIdentifier(_("马德里国际注册号应为 G 加不以0开头、最多8位的数字，例如 G1234567"))
        return "G" + digits
    if not _digits(text):
        raise InvalidIdentifier(_("注册号只能由数字组成，例如 12345678"))
    if len(text) > 9 or text.startswith("0"):
        raise InvalidIdentifier(_("注册号应为不以0开头、最多9位的数字"))
    return text


def _digits(text):
    """ASCII digits only: ``str.isdigit`` is also true for "²" (which int() refuses: a 500) and "٣"."""
    return text.isascii() and text.isdigit()


def normalize_nice_class(raw):
    """Nice class 1–45 from 9, "09", "第9类" → 9."""
    text = str(raw if raw is not None else "").strip().removeprefix("第").removesuffix("类")
    if isinstance(raw, bool) or not _digits(text) or len(text) > 3:
        raise InvalidIdentifier(_("尼斯分类应为 1–45 的整数，实际为 %(raw)s", raw=repr(raw)))
    number = int(text)
    if number not in nice_classes():
        raise InvalidIdentifier(_("尼斯分类只有第1–45类，没有第%(number)s类", number=number))
    return number


def normalize_similar_group(raw, classes=None):
    """A 4-digit similar group (类似群) that exists and belongs to one of ``classes``."""
    text = str(raw or "").strip()
    if not re.fullmatch(r"[0-9]{4}", text):
        raise InvalidIdentifier(_("类似群应为4位数字（如 0901），实际为 %(raw)s", raw=repr(raw)))
    group = similar_groups().get(text)
    if group is None:
        raise InvalidIdentifier(_("类似群 %(group)s 不存在（第%(cls)s类的类似群见《类似商品和服务区分表》）",
                                    group=text, cls=int(text[:2])))
    if classes is not None and group.nice_class not in classes:
        raise InvalidIdentifier(_("类似群 %(group)s 属于第%(cls)s类，不在所选类别 %(classes)s 中", group=text,
                                  cls=group.nice_class,
                                  classes="、".join(str(c) for c in sorted(classes)) or _("（未选）")))
    return text


# --- IPC and Locarno ----------------------------------------------------------

_IPC = re.compile(r"^([A-H])([0-9]{2})([A-Z])(?:([0-9]{1,4})/([0-9]{2,6}))?$")


def normalize_ipc(raw):
    """``H04L 9/32``, ``H04N1/21``, ``h04l0009320000`` is not accepted; a bare subclass ``G06F`` is."""
    text = re.sub(r"\s+", "", str(raw or "")).upper()
    if not text:
        raise InvalidIdentifier(_("必填"))
    match = _IPC.match(text)
    if not match:
        raise InvalidIdentifier(_("IPC 分类号格式应为 部类+大类+小类 组/分组，如 H04L 9/32，实际为 %(raw)s", raw=repr(raw)))
    section, klass, sub, group, subgroup = match.groups()
    subclass = f"{section}{klass}{sub}"
    if subclass not in ipc_scheme():
        if f"{section}{klass}" not in ipc_scheme():
            raise InvalidIdentifier(_("IPC 大类 %(code)s 不存在", code=f"{section}{klass}"))
        raise InvalidIdentifier(_("IPC 小类 %(code)s 不存在", code=subclass))
    if group is None:
        return subclass
    return f"{subclass} {int(group)}/{subgroup}"


def ipc_section(code):
    return code[:1]


def normalize_locarno(raw):
    """Locarno class-subclass ``14-02`` (accepts ``14.02``, ``1402``, ``14-2``)."""
    text = str(raw or "").strip().replace(".", "-").replace("－", "-")
    if re.fullmatch(r"[0-9]{4}", text):
        text = f"{text[:2]}-{text[2:]}"
    match = re.fullmatch(r"([0-9]{1,2})-([0-9]{1,2})", text)
    if not match:
        raise InvalidIdentifier(_("洛迦诺分类应为 大类-小类，如 14-02，实际为 %(raw)s", raw=repr(raw)))
    klass, sub = int(match.group(1)), int(match.group(2))
    if klass not in LOCARNO_CLASSES:
        raise InvalidIdentifier(_("洛迦诺分类只有第1–32类（及99类），没有第%(cls)s类", cls=klass))
    if sub == 0 and klass != 99:
        raise InvalidIdentifier(_("洛迦诺小类从 01 开始"))
    return f"{klass:02d}-{sub:02d}"


# --- terms ------------------------------------------------------------------

DESIGN_TERM_CHANGE = date(2021, 6, 1)  # the 2020 Patent Law amendment: designs filed from here get 15 years


def add_years(day, years):
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def term_years(kind, patent_type=None, filing_date=None):
    if kind == "trademark":
        return 10
    if patent_type == "invention":
        return 20
    if patent_type == "utility_model":
        return 10
    if patent_type == "design":
        return 15 if filing_date and filing_date >= DESIGN_TERM_CHANGE else 10
    raise ValueError(f"unknown patent type {patent_type!r}")


def expiry_date(kind, *, patent_type=None, filing_date=None, registration_date=None):
    """The day the right ends: patents from filing (20/10/15 or 10 years), trademarks 10 years from registration."""
    if kind == "trademark":
        return add_years(registration_date, 10) if registration_date else None
    if filing_date is None:
        return None
    return add_years(filing_date, term_years("patent", patent_type, filing_date))
