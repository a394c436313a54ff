"""Listing input validation: the request shape of docs/api.md ``POST /listings`` to column values.

Every problem is reported under the field's name (``rights[0].patent.application_number``)
with a human reason, and nothing is written when any field is wrong.
"""
import re
from datetime import date, datetime, timedelta

from flask_babel import gettext as _

from marketplace.kernel.errors import ValidationError
from marketplace.kernel.numbers import int_field
from marketplace.kernel.regions import REGIONS
from marketplace.kernel.timeutil import as_utc, local, parse_iso, utcnow

from . import identifiers as ids
from .models import DEAL_TYPES, KINDS, PRICE_MODES
from .vocab import (
    DEAD_LEGAL_STATUSES,
    DEAD_TM_STATUSES,
    KIND_LABELS,
    LEGAL_STATUSES,
    MAX_ABSTRACT,
    MAX_AUCTION_DAYS,
    MAX_CLAIMS,
    MAX_DESCRIPTION,
    MAX_DISPUTES,
    MAX_LICENSE_CAP,
    MAX_LICENSE_FIELD,
    MAX_LICENSE_TERRITORY,
    MAX_LICENSE_YEARS,
    MAX_MARK_TEXT,
    MAX_PRICE,
    MAX_RIGHT_TITLE,
    MAX_RIGHTS,
    MAX_TITLE,
    PATENT_TYPE_LABELS,
    TM_STATUSES,
    max_deposit,
)

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _choice(value, choices):
    """``value`` if it is one of ``choices`` (a str key), else None: never hashes a list or dict."""
    return value if isinstance(value, str) and value in choices else None

def _text(value, fields, key, *, required=False, max_len=None):
    if value is None:
        value = ""
    if not isinstance(value, str):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        else:
            fields[key] = _("应为文本")
            return None
    value = value.strip()
    if _CONTROL.search(value):
        fields[key] = _("含有不允许的控制字符")
        return None
    if required and not value:
        fields[key] = _("必填")
        return None
    if max_len and len(value) > max_len:
        fields[key] = _("最多 %(n)s 个字符", n=max_len)
        return None
    return value


def _date(value, fields, key, *, required=False, today=None):
    if value in (None, ""):
        if required:
            fields[key] = _("必填")
        return None
    if isinstance(value, datetime):
        value = value.date()
    if not isinstance(value, date):
        try:
            value = date.fromisoformat(str(value).strip())
        except ValueError:
            fields[key] = _("日期格式应为 YYYY-MM-DD，实际为 %(value)s", value=repr(value))
            return None
    if value.year < 1980:
        fields[key] = _("日期过早：应在1980年之后")
        return None
    if today and value > today:
        fields[key] = _("不能晚于今天（%(today)s）", today=today.isoformat())
        return None
    return value


def _int(value, fields, key, *, required=False, minimum=None, maximum=None):
    """Bounded (``marketplace.kernel.numbers``): ASCII digits only, no NaN/Infinity/exponent, at most 18 digits."""
    return int_field(value, fields, key, required=required, minimum=minimum, maximum=maximum)


def _bool(value, fields, key):
    if value in (None, ""):
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("1", "true", "yes", "y", "on", "是"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("0", "false", "no", "n", "off", "否"):
        return False
    if isinstance(value, int):
        return bool(value)
    fields[key] = _("应为 true 或 false")
    return False


def _list(value, fields, key, *, separators=r"[,，;；|、\n]"):
    """A list from a JSON array, or from a separated string (forms and CSV)."""
    if value in (None, ""):
        return []
    if isinstance(value, str):
        return [part.strip() for part in re.split(separators, value) if part.strip()]
    if isinstance(value, (list, tuple)):
        return list(value)
    fields[key] = _("应为列表")
    return []


# --- rights -------------------------------------------------------------------

def _right_kind(raw):
    """("patent" | "trademark", body) from a rights item. ``{"register": {"kind", "number"}}`` refers to
    a register entry by its number: the register's data fill the body."""
    if isinstance(raw, dict):
        ref = raw.get("register")
        if isinstance(ref, dict) and ref.get("kind") in KINDS and isinstance(ref.get("number"), str):
            key = "application_number" if ref["kind"] == "patent" else "registration_number"
            return ref["kind"], {key: ref["number"][:60]}
        if isinstance(raw.get("patent"), dict):
            return "patent", raw["patent"]
        if isinstance(raw.get("trademark"), dict):
            return "trademark", raw["trademark"]
        if raw.get("kind") in KINDS:
            return raw["kind"], raw
    return None, None


def fill_from_register(kind, body):
    """A number the register knows fills in its data; what the input gives explicitly stays on top
    (it only counts for a holder: ``register.resolve`` keeps the register's data for anyone else)."""
    from .register import known_input

    key = "application_number" if kind == "patent" else "registration_number"
    number = body.get(key)
    if not isinstance(number, str) or len(number) > 60:
        return body
    known = known_input(kind, number)
    if known is None:
        return body
    merged = dict(known[kind])
    merged.update({k: v for k, v in body.items() if v not in (None, "", [])})
    return merged


def parse_patent(raw, prefix, fields, today):
    """Validate one patent's input; return Right column values (or None if any field is wrong)."""
    before = len(fields)
    values = {"kind": "patent"}
    key = prefix + "application_number"
    patent_type = None
    try:
        values["number"], patent_type = ids.normalize_application_number(raw.get("application_number"), today)
    except ids.InvalidIdentifier as exc:
        fields[key] = str(exc)
    given_type = raw.get("patent_type")
    if given_type not in (None, ""):
        if _choice(given_type, ids.PATENT_TYPE_LABELS) is None:
            fields[prefix + "patent_type"] = _("应为 invention、utility_model 或 design")
        elif patent_type and given_type != patent_type:
            fields[prefix + "patent_type"] = _(
                "与申请号不符：申请号 %(number)s 是%(actual)s，不是%(given)s", number=values["number"],
                actual=_(ids.PATENT_TYPE_LABELS[patent_type]), given=_(ids.PATENT_TYPE_LABELS[given_type]))
    values["patent_type"] = patent_type
    values["title"] = _text(raw.get("title"), fields, prefix + "title", required=True, max_len=MAX_RIGHT_TITLE)
    values["abstract"] = _text(raw.get("abstract"), fields, prefix + "abstract", max_len=MAX_ABSTRACT) or None

    codes = []
    for i, code in enumerate(_list(raw.get("ipc_codes"), fields, prefix + "ipc_codes")):
        try:
            normal = ids.normalize_ipc(code)
        except ids.InvalidIdentifier as exc:
            fields[f"{prefix}ipc_codes[{i}]"] = str(exc)
            continue
        if normal not in codes:
            codes.append(normal)
    if codes and patent_type == "design":
        fields[prefix + "ipc_codes"] = _("外观设计不使用 IPC 分类，请填写洛迦诺分类（locarno_class）")
    values["ipc_codes"] = codes or None

    locarno = raw.get("locarno_class")
    values["locarno_class"] = None
    if locarno not in (None, ""):
        if patent_type and patent_type != "design":
            fields[prefix + "locarno_class"] = _("洛迦诺分类只适用于外观设计")
        else:
            try:
                values["locarno_class"] = ids.normalize_locarno(locarno)
            except ids.InvalidIdentifier as exc:
                fields[prefix + "locarno_class"] = str(exc)

    filing = _date(raw.get("filing_date"), fields, prefix + "filing_date", required=True, today=today)
    values["filing_date"] = filing
    if filing and values.get("number") and patent_type:
        number_year = ids.application_year(values["number"])
        pct = values["number"].split(".")[0][4 if len(values["number"]) > 11 else 2] in "89"
        # PCT national-phase numbers carry the year of entry, not of the international filing.
        if not pct and number_year != filing.year:
            fields[prefix + "filing_date"] = _("申请日年份 %(filed)s 与申请号年份 %(numbered)s 不符",
                                               filed=filing.year, numbered=number_year)
    grant = _date(raw.get("grant_date"), fields, prefix + "grant_date", today=today)
    if grant and filing and grant < filing:
        fields[prefix + "grant_date"] = _("授权公告日不能早于申请日")
    values["grant_date"] = grant
    values["claims_count"] = _int(raw.get("claims_count"), fields, prefix + "claims_count", minimum=1, maximum=MAX_CLAIMS)
    if values["claims_count"] and patent_type == "design":
        fields[prefix + "claims_count"] = _("外观设计没有权利要求")

    status = raw.get("legal_status")
    if status in (None, ""):
        fields[prefix + "legal_status"] = _("必填：pending（审查中）或 granted（已授权）")
    elif _choice(status, LEGAL_STATUSES) is None:
        fields[prefix + "legal_status"] = _("应为 %(options)s", options="、".join(LEGAL_STATUSES))
    elif status in DEAD_LEGAL_STATUSES:
        fields[prefix + "legal_status"] = _("权利已失效（%(status)s），不能挂牌", status=_(LEGAL_STATUSES[status]))
    values["legal_status"] = status
    if status == "pending" and grant:
        fields[prefix + "grant_date"] = _("审查中的申请没有授权公告日")

    if filing and patent_type:
        ends = ids.expiry_date("patent", patent_type=patent_type, filing_date=filing)
        if ends <= today:
            term = ids.term_years("patent", patent_type, filing)
            fields.setdefault(prefix + "filing_date",
                              _("保护期已于 %(ends)s 届满（%(type)s专利 %(term)s 年，自申请日起算），不能挂牌",
                                ends=ends.isoformat(), type=_(PATENT_TYPE_LABELS[patent_type]), term=term))
    values["pledged"] = _bool(raw.get("pledged"), fields, prefix + "pledged")
    values["annuity_paid_until"] = _date(raw.get("annuity_paid_until"), fields, prefix + "annuity_paid_until")
    values["exclusive_license_until"] = _date(raw.get("exclusive_license_until"), fields,
                                              prefix + "exclusive_license_until")
    countries = []
    for i, c in enumerate(_list(raw.get("family_countries"), fields, prefix + "family_countries")):
        c = str(c).strip().upper()
        if not re.fullmatch(r"[A-Z]{2}", c):
            fields[f"{prefix}family_countries[{i}]"] = _("应为两位国家/地区代码，如 US、EP、JP")
        elif c not in countries and c != "CN":
            countries.append(c)
    values["family_countries"] = countries or None
    return values if len(fields) == before else None


def parse_trademark(raw, prefix, fields, today):
    """Validate one trademark's input; return Right column values (or None if any field is wrong)."""
    before = len(fields)
    values = {"kind": "trademark"}
    try:
        values["number"] = ids.normalize_registration_number(raw.get("registration_number"))
    except ids.InvalidIdentifier as exc:
        fields[prefix + "registration_number"] = str(exc)
    values["title"] = _text(raw.get("mark_text"), fields, prefix + "mark_text", required=True, max_len=MAX_MARK_TEXT)

    classes = []
    raw_classes = _list(raw.get("nice_classes"), fields, prefix + "nice_classes")
    if not raw_classes and prefix + "nice_classes" not in fields:
        fields[prefix + "nice_classes"] = _("至少选择一个尼斯分类（1–45）")
    for i, c in enumerate(raw_classes):
        try:
            number = ids.normalize_nice_class(c)
        except ids.InvalidIdentifier as exc:
            fields[f"{prefix}nice_classes[{i}]"] = str(exc)
            continue
        if number not in classes:
            classes.append(number)
    values["nice_classes"] = sorted(classes)

    groups = []
    for i, g in enumerate(_list(raw.get("similar_groups"), fields, prefix + "similar_groups")):
        try:
            code = ids.normalize_similar_group(g, classes)
        except ids.InvalidIdentifier as exc:
            fields[f"{prefix}similar_groups[{i}]"] = str(exc)
            continue
        if code not in groups:
            groups.append(code)
    values["similar_groups"] = sorted(groups) or None
    goods = [_CONTROL.sub("", str(g)).strip()[:100]
             for g in _list(raw.get("goods"), fields, prefix + "goods", separators=r"[;；|\n]")]
    goods = [g for g in goods if g]
    values["goods"] = goods[:200] or None

    status = raw.get("status")
    if status in (None, ""):
        fields[prefix + "status"] = _("必填：registered（已注册）或 pending（申请中）")
    elif _choice(status, TM_STATUSES) is None:
        fields[prefix + "status"] = _("应为 %(options)s", options="、".join(TM_STATUSES))
    elif status in DEAD_TM_STATUSES:
        fields[prefix + "status"] = _("商标%(status)s，不能挂牌", status=_(TM_STATUSES[status]))
    values["tm_status"] = status
    reg = _date(raw.get("registration_date"), fields, prefix + "registration_date",
                required=_choice(status, ("registered", "opposed")) is not None, today=today)
    values["registration_date"] = reg
    if reg:
        ends = ids.expiry_date("trademark", registration_date=reg)
        if ends <= today:
            fields.setdefault(prefix + "registration_date",
                              _("注册有效期已于 %(ends)s 届满（自核准注册之日起10年），续展后请填写续展后有效期的起始日",
                                ends=ends.isoformat()))
    values["exclusive_license_until"] = _date(raw.get("exclusive_license_until"), fields,
                                              prefix + "exclusive_license_until")
    values["pledged"] = _bool(raw.get("pledged"), fields, prefix + "pledged")
    values["use_evidence"] = _bool(raw.get("use_evidence"), fields, prefix + "use_evidence") \
        if raw.get("use_evidence") not in (None, "") else None
    values["disputes"] = _int(raw.get("disputes"), fields, prefix + "disputes", minimum=0, maximum=MAX_DISPUTES)
    return values if len(fields) == before else None


# --- the listing ------------------------------------------------------------------

LISTING_KEYS = ("kind", "title", "description", "deal_types", "price_mode", "price", "deal_prices", "auction", "rights",
                "region",
                "offer_floor", "license_territory", "license_field", "license_years", "license_cap",
                "acts_for_holders")


def _deal_prices(raw, fields, deal_types, mode, price):
    """``{deal_type: fen}``: a price of its own for some of the listing's deal types (issue 17: 转让 ¥26万, 普通许可
    ¥5万). Only the deal types the listing offers, each a bounded amount; an auction has none (its first deal
    type is sold at the bids). Entries equal to ``price`` are dropped (they say nothing), so an empty map is None."""
    if raw in (None, "", {}):
        return None
    if not isinstance(raw, dict):
        fields["deal_prices"] = _("应为对象，如 {\"assignment\": 26000000, \"non_exclusive_license\": 5000000}")
        return None
    if len(raw) > len(DEAL_TYPES):
        fields["deal_prices"] = _("只能是 %(options)s", options="、".join(DEAL_TYPES))
        return None
    out = {}
    for key, value in raw.items():
        if key not in DEAL_TYPES:
            fields["deal_prices"] = _("只能是 %(options)s", options="、".join(DEAL_TYPES))
            continue
        amount = _int(value, fields, f"deal_prices.{key}", minimum=1, maximum=MAX_PRICE)
        if amount is None:
            continue
        if key not in deal_types:
            fields[f"deal_prices.{key}"] = _("未选择这种交易方式，不能为它定价")
            continue
        if amount != price:
            out[key] = amount
    if mode == "auction":
        if out:
            fields["deal_prices"] = _("竞拍只按起拍价和出价成交，不能按交易方式分别定价")
        return None
    return out or None


def kind_mismatch(kind):
    """Why a right of the other kind cannot be in a ``kind`` listing."""
    return _("%(kind)s挂牌只能包含%(kind)s", kind=_(KIND_LABELS[kind]))


def parse_listing(data, *, today=None, now=None, default_region="other"):
    """Validate a full listing input (docs/api.md ``POST /listings`` shape).

    Returns ``cleaned`` (listing values, ``rights`` as a list of Right values,
    ``auction`` as Auction values or None). Raises ValidationError with every
    bad field at once.
    """
    if not isinstance(data, dict):
        raise ValidationError(_("请求体必须是 JSON 对象"), {"body": "expected an object"})
    now = now or utcnow()
    today = today or local(now).date()
    fields = {}
    out = {}
    kind = _choice(data.get("kind"), KINDS)
    if kind is None:
        fields["kind"] = _("应为 patent（专利）或 trademark（商标）")
        kind = None
    out["kind"] = kind
    out["title"] = _text(data.get("title"), fields, "title", required=True, max_len=MAX_TITLE)
    out["description"] = _text(data.get("description"), fields, "description", max_len=MAX_DESCRIPTION) or ""

    deal_types = _list(data.get("deal_types"), fields, "deal_types")
    if not deal_types and "deal_types" not in fields:
        fields["deal_types"] = _("至少选择一种交易方式")
    elif any(_choice(d, DEAL_TYPES) is None for d in deal_types):
        fields["deal_types"] = _("只能是 %(options)s", options="、".join(DEAL_TYPES))
    out["deal_types"] = [d for d in DEAL_TYPES if d in deal_types]

    mode = _choice(data.get("price_mode"), PRICE_MODES)
    if mode is None:
        fields["price_mode"] = _("应为 fixed（一口价）、negotiable（面议）或 auction（竞拍）")
        mode = None
    out["price_mode"] = mode
    price = _int(data.get("price"), fields, "price", minimum=1, maximum=MAX_PRICE)
    if mode == "fixed" and price is None and "price" not in fields:
        fields["price"] = _("一口价须填写价格")
    if mode == "auction":
        price = None  # the auction's start price and bids are the price
    out["price"] = price
    out["deal_prices"] = _deal_prices(data.get("deal_prices"), fields, out["deal_types"], mode, price)
    floor = _int(data.get("offer_floor"), fields, "offer_floor", minimum=1, maximum=MAX_PRICE)
    out["offer_floor"] = floor if mode == "negotiable" else None

    out["auction"] = None
    if mode == "auction":
        out["auction"] = _parse_auction(data.get("auction"), fields, now)

    region = data.get("region") or default_region
    if _choice(region, REGIONS) is None:
        fields["region"] = _("未知地区：应为广东省21个地级市之一或 other")
    out["region"] = region
    out["license_territory"] = _text(data.get("license_territory"), fields, "license_territory", max_len=MAX_LICENSE_TERRITORY) or None
    out["license_field"] = _text(data.get("license_field"), fields, "license_field", max_len=MAX_LICENSE_FIELD) or None
    out["license_years"] = _int(data.get("license_years"), fields, "license_years", minimum=1, maximum=MAX_LICENSE_YEARS)
    out["license_cap"] = _int(data.get("license_cap"), fields, "license_cap", minimum=1, maximum=MAX_LICENSE_CAP)
    if out["license_cap"] and "non_exclusive_license" not in out["deal_types"]:
        out["license_cap"] = None  # only non-exclusive licences are sold more than once
    out["acts_for_holders"] = _bool(data.get("acts_for_holders"), fields, "acts_for_holders")

    rights_raw = data.get("rights")
    rights = []
    if not isinstance(rights_raw, list) or not rights_raw:
        fields["rights"] = _("至少填写一项专利或商标")
    elif len(rights_raw) > MAX_RIGHTS:
        fields["rights"] = _("一个挂牌最多包含 %(n)s 项权利", n=MAX_RIGHTS)
    else:
        seen = {}
        for i, raw in enumerate(rights_raw):
            right_kind, body = _right_kind(raw)
            if right_kind is None:
                fields[f"rights[{i}]"] = _("应为 {\"patent\": {…}} 或 {\"trademark\": {…}}")
                continue
            if kind and right_kind != kind:
                fields[f"rights[{i}]"] = kind_mismatch(kind)
                continue
            prefix = f"rights[{i}].{right_kind}."
            body = fill_from_register(right_kind, body)
            parse = parse_patent if right_kind == "patent" else parse_trademark
            values = parse(body, prefix, fields, today)
            if values is None:
                continue
            number_key = prefix + ("application_number" if right_kind == "patent" else "registration_number")
            if values["number"] in seen:
                fields[number_key] = _("与第 %(n)s 项重复", n=seen[values["number"]] + 1)
                continue
            seen[values["number"]] = i
            values["position"] = i
            rights.append(values)
    out["rights"] = rights
    if fields:
        raise ValidationError(_("挂牌信息有误，请检查标注的字段"), fields)
    return out


def _parse_auction(raw, fields, now):
    if not isinstance(raw, dict):
        fields["auction"] = _("竞拍须填写 start_price、min_increment 和 ends_at")
        return None
    values = {
        "start_price": _int(raw.get("start_price"), fields, "auction.start_price", required=True, minimum=1,
                            maximum=MAX_PRICE),
        "min_increment": _int(raw.get("min_increment"), fields, "auction.min_increment", required=True, minimum=1,
                              maximum=MAX_PRICE),
        "reserve_price": _int(raw.get("reserve_price"), fields, "auction.reserve_price", minimum=1, maximum=MAX_PRICE),
        "ends_at": None,
    }
    values["deposit_amount"] = _int(raw.get("deposit_amount"), fields, "auction.deposit_amount", minimum=1,
                                    maximum=MAX_PRICE)
    if values["deposit_amount"] and values["start_price"]:
        if values["deposit_amount"] > max_deposit(values["start_price"]):
            from marketplace.kernel.money import display_yuan

            fields["auction.deposit_amount"] = _("保证金不能超过起拍价的 20%%（至多 %(max)s）",
                                                 max=display_yuan(max_deposit(values["start_price"])))
    if values["reserve_price"] and values["start_price"] and values["reserve_price"] < values["start_price"]:
        fields["auction.reserve_price"] = _("保留价不能低于起拍价")
    ends = raw.get("ends_at")
    if ends in (None, ""):
        fields["auction.ends_at"] = _("必填")
    else:
        try:
            ends_at = as_utc(ends) if isinstance(ends, datetime) else parse_iso(str(ends))
        except ValueError:
            fields["auction.ends_at"] = _("时间格式应为 ISO 8601，如 2026-06-30T20:00:00+08:00")
        else:
            if ends_at <= now + timedelta(hours=1):
                fields["auction.ends_at"] = _("结束时间至少在一小时之后")
            elif ends_at > now + timedelta(days=MAX_AUCTION_DAYS):
                fields["auction.ends_at"] = _("拍卖期最长 %(n)s 天", n=MAX_AUCTION_DAYS)
            else:
                values["ends_at"] = ends_at
    return values

