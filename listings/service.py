"""Listing rules: input validation, the lifecycle, encumbrances, visibility (DESIGN.md "Listing lifecycle").

Plain functions that take the acting user and ids or plain values, raise typed
DomainErrors and flush, never commit: the HTML views, the JSON API and the CSV
import all call these, so each rule lives here once.

Input is the request shape of API.md ``POST /listings``. Every problem is
reported under the field's name (``rights[0].patent.application_number``) with
a human reason, and nothing is written when any field is wrong.
"""
import re
from datetime import date, datetime, timedelta

import markdown as markdown_lib
import nh3
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select

from marketplace import audit
from marketplace.credit import ensure_can
from marketplace.errors import Conflict, IllegalTransition, NotFound, PermissionDenied, ValidationError
from marketplace.extensions import db
from marketplace.notify import notify
from marketplace.regions import REGIONS
from marketplace.timeutil import as_utc, local, parse_iso, utcnow
from marketplace.uploads import save_upload

from . import identifiers as ids
from .models import DEAL_TYPES, KINDS, PRICE_MODES, Auction, Listing, Right

STATUS_LABELS = {
    "draft": "草稿", "pending_review": "待审核", "published": "已发布", "reserved": "交易中", "sold": "已成交",
    "rejected": "已驳回", "withdrawn": "已撤回", "expired": "已过期",
}
DEAL_TYPE_LABELS = {
    "assignment": "转让", "exclusive_license": "独占许可", "sole_license": "排他许可",
    "non_exclusive_license": "普通许可",
}
PRICE_MODE_LABELS = {"fixed": "一口价", "negotiable": "面议", "auction": "竞拍"}
KIND_LABELS = {"patent": "专利", "trademark": "商标"}
PATENT_TYPE_LABELS = ids.PATENT_TYPE_LABELS
LEGAL_STATUSES = {"pending": "审查中", "granted": "已授权", "lapsed": "未缴年费失效", "invalidated": "已宣告无效",
                  "expired": "保护期届满"}
TM_STATUSES = {"registered": "已注册", "pending": "申请中", "opposed": "异议中", "cancelled": "已撤销",
               "invalidated": "已宣告无效"}
DEAD_LEGAL_STATUSES = {"lapsed", "invalidated", "expired"}
DEAD_TM_STATUSES = {"cancelled", "invalidated"}
EXCLUSIVE_DEAL_TYPES = {"exclusive_license", "sole_license"}
LICENSE_DEAL_TYPES = {"exclusive_license", "sole_license", "non_exclusive_license"}

# The lifecycle in one table: action -> (states it may start from, state it leads to).
TRANSITIONS = {
    "submit": ({"draft", "rejected"}, "pending_review"),
    "approve": ({"pending_review"}, "published"),
    "reject": ({"pending_review"}, "rejected"),
    "withdraw": ({"draft", "pending_review", "published", "rejected"}, "withdrawn"),
    "reopen": ({"withdrawn"}, "draft"),
    "expire": ({"draft", "pending_review", "published", "rejected"}, "expired"),
    "reserve": ({"published"}, "reserved"),
    "release": ({"reserved"}, "published"),
    "sell": ({"reserved"}, "sold"),
    # A won auction whose deal is cancelled or refunded: the auction is over, so the listing
    # cannot go back on the market; it expires and the seller may relist it.
    "lapse": ({"reserved"}, "expired"),
    # Relisting copies an expired listing into a new draft; the expired one stays as history.
    "relist": ({"expired"}, "expired"),
}
EDITABLE_STATUSES = {"draft", "rejected"}
PUBLIC_STATUSES = {"published", "reserved", "sold"}
ACTION_LABELS = {"submit": "提交审核", "approve": "审核通过", "reject": "驳回", "withdraw": "撤回", "reopen": "重新编辑",
                 "expire": "标记过期", "reserve": "进入交易", "release": "恢复上架", "sell": "标记成交",
                 "lapse": "到期下架", "relist": "重新发布"}

MAX_RIGHTS = 100
MAX_DESCRIPTION = 20_000
MAX_PRICE = 10**14  # fen: 1万亿元, far beyond any real deal, keeps BIGINT arithmetic safe
MAX_AUCTION_DAYS = 90
RELIST_AUCTION_DAYS = 7  # a relisted auction's default close, from the moment of relisting


# --- Markdown -------------------------------------------------------------------

_ALLOWED_TAGS = {"p", "br", "strong", "em", "b", "i", "ul", "ol", "li", "blockquote", "code", "pre", "h3", "h4",
                 "h5", "hr", "a", "table", "thead", "tbody", "tr", "th", "td", "sup", "sub"}


def render_markdown(text):
    """Markdown → HTML that is safe to show: nh3 removes scripts, handlers, styles and unsafe URLs."""
    html = markdown_lib.markdown(text or "", extensions=["tables", "sane_lists"])
    # Headings are demoted so a description never outranks the page's own headings.
    html = re.sub(r"<(/?)h[12]\b", r"<\1h3", html)
    return nh3.clean(html, tags=_ALLOWED_TAGS, attributes={"a": {"href", "title"}},
                     url_schemes={"http", "https", "mailto"}, link_rel="nofollow noopener noreferrer")


def plain_text(text, limit=None):
    """The description as plain text (for cards and search excerpts)."""
    html = markdown_lib.markdown(text or "")
    plain = nh3.clean(html, tags=set())
    plain = re.sub(r"\s+", " ", _unescape(plain)).strip()
    if limit and len(plain) > limit:
        plain = plain[: limit - 1] + "…"
    return plain


def _unescape(text):
    import html

    return html.unescape(text)


# --- visibility and permission ------------------------------------------------------

def is_owner(user, listing):
    """A seller of the listing's organisation acts for it (an SME's staff share its listings)."""
    return (user is not None and getattr(user, "is_authenticated", True) and user.has_role("seller")
            and user.organization_id is not None and user.organization_id == listing.organization_id)


def can_view(user, listing):
    if listing.status in PUBLIC_STATUSES:
        return True
    if user is None or not getattr(user, "is_authenticated", True):
        return False
    return user.is_operator or (user.organization_id is not None and user.organization_id == listing.organization_id)


def get_visible(user, listing_id):
    """The listing if ``user`` (None for anonymous) may see it; NotFound otherwise (never says which)."""
    listing = db.session.get(Listing, listing_id)
    if listing is None or not can_view(user, listing):
        raise NotFound(_("挂牌不存在"))
    return listing


def get_owned(user, listing_id):
    """The listing if ``user`` may act for it as seller: 404 if invisible, 403 if only visible."""
    listing = get_visible(user, listing_id)
    if not is_owner(user, listing):
        raise PermissionDenied(_("只有挂牌单位的卖家可以执行此操作"))
    return listing


def require_seller(user):
    if user is None or not user.has_role("seller"):
        raise PermissionDenied(_("只有卖家账户可以发布挂牌"))
    if user.organization_id is None:
        raise PermissionDenied(_("卖家账户须先关联所属单位"))
    ensure_can(user, "list")


def _transition(listing, action):
    allowed, target = TRANSITIONS[action]
    if listing.status not in allowed:
        raise IllegalTransition(
            _("挂牌当前状态为“%(status)s”，不能%(action)s",
              status=_(STATUS_LABELS.get(listing.status, listing.status)), action=_(ACTION_LABELS[action])),
            status=listing.status)
    listing.status = target


# --- parsing helpers ----------------------------------------------------------------

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
    if value in (None, ""):
        if required:
            fields[key] = _("必填")
        return None
    if isinstance(value, bool):
        fields[key] = _("应为整数")
        return None
    if isinstance(value, float):
        if not value.is_integer():
            fields[key] = _("应为整数")
            return None
        value = int(value)
    if isinstance(value, str):
        if not re.fullmatch(r"-?\d+", value.strip()):
            fields[key] = _("应为整数")
            return None
        value = int(value.strip())
    if not isinstance(value, int):
        fields[key] = _("应为整数")
        return None
    if minimum is not None and value < minimum:
        fields[key] = _("不能小于 %(n)s", n=minimum)
        return None
    if maximum is not None and value > maximum:
        fields[key] = _("不能大于 %(n)s", n=maximum)
        return None
    return value


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
    if isinstance(raw, dict):
        if isinstance(raw.get("patent"), dict):
            return "patent", raw["patent"]
        if isinstance(raw.get("trademark"), dict):
            return "trademark", raw["trademark"]
        if raw.get("kind") in KINDS:
            return raw["kind"], raw
    return None, None


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
    values["title"] = _text(raw.get("title"), fields, prefix + "title", required=True, max_len=300)
    values["abstract"] = _text(raw.get("abstract"), fields, prefix + "abstract", max_len=5000) or None

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
    values["claims_count"] = _int(raw.get("claims_count"), fields, prefix + "claims_count", minimum=1, maximum=1000)
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
    values["title"] = _text(raw.get("mark_text"), fields, prefix + "mark_text", required=True, max_len=100)

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
    values["use_evidence"] = _bool(raw.get("use_evidence"), fields, prefix + "use_evidence") \
        if raw.get("use_evidence") not in (None, "") else None
    values["disputes"] = _int(raw.get("disputes"), fields, prefix + "disputes", minimum=0, maximum=1000)
    return values if len(fields) == before else None


# --- the listing ------------------------------------------------------------------

LISTING_KEYS = ("kind", "title", "description", "deal_types", "price_mode", "price", "auction", "rights", "region",
                "offer_floor", "license_territory", "license_field", "license_years")


def parse_listing(data, *, today=None, now=None, default_region="other"):
    """Validate a full listing input (API.md ``POST /listings`` shape).

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
    out["title"] = _text(data.get("title"), fields, "title", required=True, max_len=200)
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
    floor = _int(data.get("offer_floor"), fields, "offer_floor", minimum=1, maximum=MAX_PRICE)
    out["offer_floor"] = floor if mode == "negotiable" else None

    out["auction"] = None
    if mode == "auction":
        out["auction"] = _parse_auction(data.get("auction"), fields, now)

    region = data.get("region") or default_region
    if _choice(region, REGIONS) is None:
        fields["region"] = _("未知地区：应为广东省21个地级市之一或 other")
    out["region"] = region
    out["license_territory"] = _text(data.get("license_territory"), fields, "license_territory", max_len=100) or None
    out["license_field"] = _text(data.get("license_field"), fields, "license_field", max_len=200) or None
    out["license_years"] = _int(data.get("license_years"), fields, "license_years", minimum=1, maximum=30)

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
                fields[f"rights[{i}]"] = _("%(kind)s挂牌只能包含%(kind)s", kind=_(KIND_LABELS[kind]))
                continue
            prefix = f"rights[{i}].{right_kind}."
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
    _check_exclusive_licences(out, fields, today)
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


def _check_exclusive_licences(out, fields, today):
    """An exclusive licence in force blocks offering another exclusive (or sole) licence."""
    wanted = EXCLUSIVE_DEAL_TYPES & set(out["deal_types"])
    if not wanted:
        return
    blocked = [r for r in out["rights"] if r.get("exclusive_license_until") and r["exclusive_license_until"] > today]
    if blocked:
        names = "、".join(_("%(number)s（至 %(until)s）", number=r["number"],
                           until=r["exclusive_license_until"].isoformat()) for r in blocked)
        fields["deal_types"] = _("%(names)s 已有独占许可在有效期内，不能再提供%(deal_types)s", names=names,
                                 deal_types="、".join(_(DEAL_TYPE_LABELS[d]) for d in sorted(wanted)))


def _warnings(listing, today):
    """Advisory findings that do not block a draft (blocking ones are checked again on submit)."""
    warnings = []
    if _needs_pledge_consent(listing):
        pledged = [r.number for r in listing.rights if r.pledged]
        warnings.append({"code": "pledge_consent_required",
                         "message": _("%(numbers)s 已质押：以转让方式挂牌须上传质权人同意书，提交审核前补齐",
                                     numbers="、".join(pledged)),
                         "listing_ids": []})
    if listing.kind == "patent" and "non_exclusive_license" in listing.deal_types:
        licensed = [r.number for r in listing.rights
                    if r.exclusive_license_until and r.exclusive_license_until > today]
        if licensed:
            warnings.append({"code": "exclusive_license_in_force",
                             "message": _("%(numbers)s 已有独占/排他许可在有效期内，普通许可须取得被许可人同意",
                                         numbers="、".join(licensed)),
                             "listing_ids": []})
    similar = similar_marks(listing)
    if similar:
        names = "；".join(f"#{other.id}《{other.title}》（{', '.join(reasons)}）" for other, reasons in similar)
        warnings.append({"code": "similar_marks",
                         "message": _("商标转让须将同一注册人在同一种或类似商品上的相同或近似商标一并转让（商标法第四十二条）。"
                                      "本单位的以下挂牌含有相同或近似商标：%(names)s。可将其合并到本挂牌一起转让。",
                                      names=names),
                         "listing_ids": [other.id for other, _ in similar]})
    return warnings


def _needs_pledge_consent(listing):
    return ("assignment" in listing.deal_types and any(r.pledged for r in listing.rights)
            and not listing.pledge_consent)


def similar_marks(listing):
    """Other live listings of the same organisation holding identical marks or marks in a shared similar group.

    Only matters for an assignment of trademarks. Returns [(other_listing, [reason, …])].
    """
    if listing.kind != "trademark" or "assignment" not in (listing.deal_types or []):
        return []
    texts = {r.title.strip().lower() for r in listing.rights}
    groups = {g for r in listing.rights for g in (r.similar_groups or [])}
    own_numbers = {r.number for r in listing.rights}
    query = (select(Listing).where(Listing.organization_id == listing.organization_id, Listing.kind == "trademark",
                                   Listing.status.in_(("draft", "pending_review", "published", "rejected")))
             .order_by(Listing.id))
    if listing.id is not None:
        query = query.where(Listing.id != listing.id)
    found = []
    for other in db.session.scalars(query):
        reasons = []
        for right in other.rights:
            if right.number in own_numbers:
                continue
            if right.title.strip().lower() in texts:
                reasons.append(_("相同商标“%(mark)s”第%(number)s号", mark=right.title, number=right.number))
            else:
                shared = groups & set(right.similar_groups or [])
                if shared:
                    reasons.append(_("“%(mark)s”第%(number)s号与本挂牌同在类似群 %(groups)s", mark=right.title,
                                     number=right.number, groups="、".join(sorted(shared))))
        if reasons:
            found.append((other, reasons))
    return found


def _apply(listing, cleaned):
    for key in ("kind", "title", "description", "deal_types", "price_mode", "price", "region", "offer_floor",
                "license_territory", "license_field", "license_years"):
        setattr(listing, key, cleaned[key])
    # Rights are replaced as a whole: the input is the full list.
    existing = {r.number: r for r in listing.rights}
    new_rights = []
    for values in cleaned["rights"]:
        right = existing.pop(values["number"], None) or Right()
        for column in ("kind", "number", "title", "abstract", "patent_type", "ipc_codes", "locarno_class",
                       "filing_date", "grant_date", "claims_count", "legal_status", "pledged", "family_countries",
                       "exclusive_license_until", "nice_classes", "similar_groups", "goods", "registration_date",
                       "tm_status", "disputes", "use_evidence"):
            setattr(right, column, values.get(column, _right_default(column)))
        right.position = values["position"]
        new_rights.append(right)
    listing.rights = new_rights
    if cleaned["auction"]:
        auction = listing.auction or Auction()
        for key, value in cleaned["auction"].items():
            setattr(auction, key, value)
        listing.auction = auction
    elif listing.auction is not None:
        listing.auction = None
    if listing.kind != "trademark":
        listing.image = None


def _right_default(column):
    return False if column == "pledged" else None


def create_listing(user, data, *, now=None):
    """Create a draft listing for ``user``'s organisation. Returns (listing, warnings)."""
    require_seller(user)
    now = now or utcnow()
    cleaned = parse_listing(data, now=now, default_region=user.organization.region or "other")
    listing = Listing(seller_id=user.id, organization_id=user.organization_id, status="draft", currency="CNY")
    _apply(listing, cleaned)
    db.session.add(listing)
    db.session.flush()
    return listing, _warnings(listing, local(now).date())


def listing_input(listing):
    """The listing as API input (the shape ``parse_listing`` takes): PATCH merges into this."""
    data = {key: getattr(listing, key) for key in ("kind", "title", "description", "deal_types", "price_mode",
                                                    "price", "region", "offer_floor", "license_territory",
                                                    "license_field", "license_years")}
    data["rights"] = [right_input(r) for r in listing.rights]
    if listing.auction is not None:
        a = listing.auction
        data["auction"] = {"start_price": a.start_price, "min_increment": a.min_increment,
                           "reserve_price": a.reserve_price, "ends_at": a.ends_at}
    return data


def right_input(right):
    if right.kind == "patent":
        return {"patent": {
            "application_number": right.number, "patent_type": right.patent_type, "title": right.title,
            "abstract": right.abstract, "ipc_codes": right.ipc_codes or [], "locarno_class": right.locarno_class,
            "filing_date": right.filing_date, "grant_date": right.grant_date, "claims_count": right.claims_count,
            "legal_status": right.legal_status, "pledged": right.pledged,
            "exclusive_license_until": right.exclusive_license_until,
            "family_countries": right.family_countries or []}}
    return {"trademark": {
        "registration_number": right.number, "mark_text": right.title, "nice_classes": right.nice_classes or [],
        "similar_groups": right.similar_groups or [], "goods": right.goods or [],
        "registration_date": right.registration_date, "status": right.tm_status,
        "exclusive_license_until": right.exclusive_license_until, "use_evidence": right.use_evidence,
        "disputes": right.disputes}}


def update_listing(user, listing_id, changes, *, now=None):
    """Change a draft or rejected listing (PATCH: only the keys given). Returns (listing, warnings)."""
    listing = get_owned(user, listing_id)
    ensure_can(user, "list")
    if listing.status not in EDITABLE_STATUSES:
        raise IllegalTransition(_("挂牌当前状态为“%(status)s”，只有草稿或被驳回的挂牌可以修改",
                                  status=_(STATUS_LABELS[listing.status])),
                                status=listing.status)
    if not isinstance(changes, dict):
        raise ValidationError(_("请求体必须是 JSON 对象"), {"body": "expected an object"})
    unknown = sorted(set(changes) - set(LISTING_KEYS))
    if unknown:
        raise ValidationError(_("含有不能修改的字段"), {k: _("未知或不可修改的字段") for k in unknown})
    if "kind" in changes and changes["kind"] != listing.kind and "rights" not in changes:
        raise ValidationError(_("更改类型须同时提供新的权利列表"), {"kind": _("更改类型须同时提供 rights")})
    now = now or utcnow()
    merged = listing_input(listing)
    merged.update(changes)
    if merged.get("price_mode") != "auction":
        merged.pop("auction", None)
    cleaned = parse_listing(merged, now=now, default_region=listing.region)
    _apply(listing, cleaned)
    db.session.flush()
    return listing, _warnings(listing, local(now).date())


def _check_ready(listing, today, now):
    """What must hold before a listing goes to review and again before it is published."""
    fields = {}
    for i, right in enumerate(listing.rights):
        prefix = f"rights[{i}].{right.kind}."
        ends = right_expiry(right)
        if ends and ends <= today:
            fields[prefix + ("filing_date" if right.kind == "patent" else "registration_date")] = \
                _("保护期已于 %(ends)s 届满，不能挂牌", ends=ends.isoformat())
        if right.kind == "patent" and right.legal_status in DEAD_LEGAL_STATUSES:
            fields[prefix + "legal_status"] = _("权利已失效，不能挂牌")
        if right.kind == "trademark" and right.tm_status in DEAD_TM_STATUSES:
            fields[prefix + "status"] = _("商标已失效，不能挂牌")
    if not listing.rights:
        fields["rights"] = _("至少填写一项专利或商标")
    if _needs_pledge_consent(listing):
        fields["pledge_consent"] = _("含已质押的专利，以转让方式挂牌须上传质权人同意书")
    if listing.price_mode == "fixed" and not listing.price:
        fields["price"] = _("一口价须填写价格")
    if listing.price_mode == "auction":
        if listing.auction is None:
            fields["auction"] = _("竞拍须填写拍卖条件")
        elif listing.auction.ends_at <= now + timedelta(hours=1):
            fields["auction.ends_at"] = _("拍卖结束时间已过或不足一小时，请修改后再提交")
    if fields:
        raise ValidationError(_("挂牌还不能提交审核，请先修改标注的字段"), fields)


def submit_listing(user, listing_id, *, now=None):
    """Draft or rejected → pending_review (owner; credit must allow listing)."""
    listing = get_owned(user, listing_id)
    ensure_can(user, "list")
    now = now or utcnow()
    if listing.status not in TRANSITIONS["submit"][0]:
        _transition(listing, "submit")  # raises with the current state
    _check_ready(listing, local(now).date(), now)
    _transition(listing, "submit")
    listing.submitted_at = now
    db.session.flush()
    return listing


def review_listing(operator, listing_id, decision, reason=None, *, now=None):
    """pending_review → published (approve, sets published_at) or rejected (with the operator's reason)."""
    if operator is None or not operator.is_operator:
        raise PermissionDenied(_("只有运营人员可以审核挂牌"))
    listing = db.session.get(Listing, listing_id)
    if listing is None:
        raise NotFound(_("挂牌不存在"))
    now = now or utcnow()
    reason = (reason or "").strip() if isinstance(reason, str) else reason
    if _choice(decision, ("approve", "reject")) is None:
        raise ValidationError(_("审核结论应为 approve 或 reject"), {"decision": _("应为 approve（通过）或 reject（驳回）")})
    if decision == "reject" and not reason:
        raise ValidationError(_("驳回须写明理由"), {"reason": _("必填：告诉卖家需要修改什么")})
    if reason is not None and not isinstance(reason, str):
        raise ValidationError(_("理由应为文本"), {"reason": _("应为文本")})
    if reason and _CONTROL.search(reason):
        raise ValidationError(_("理由含有不允许的控制字符"), {"reason": _("含有不允许的控制字符")})
    if reason and len(reason) > 2000:
        raise ValidationError(_("理由过长"), {"reason": _("最多 %(n)s 个字符", n=2000)})
    before = listing.status
    if decision == "approve":
        if listing.status not in TRANSITIONS["approve"][0]:
            _transition(listing, "approve")
        try:
            _check_ready(listing, local(now).date(), now)
        except ValidationError as exc:
            raise Conflict(_("挂牌已不满足发布条件，请驳回并说明：%(reasons)s", reasons="；".join(exc.fields.values())),
                           fields=exc.fields) from exc
        _transition(listing, "approve")
        listing.published_at = now
        listing.rejection_reason = None
        if listing.auction is not None and listing.auction.starts_at is None:
            listing.auction.starts_at = now
        notify(listing.seller_id, "listing", f"挂牌已通过审核：{listing.title}", "挂牌已发布，买家现在可以看到并交易。",
               link=f"/listings/{listing.id}")
    else:
        _transition(listing, "reject")
        listing.rejection_reason = reason
        notify(listing.seller_id, "listing", f"挂牌未通过审核：{listing.title}", f"驳回理由：{reason}",
               link="/my/listings")
    db.session.flush()
    audit.record(operator, f"listing.{decision}", "listing", listing.id,
                 before={"status": before}, after={"status": listing.status, "reason": reason})
    return listing


def withdraw_listing(user, listing_id, *, now=None):
    """Take a listing off the market (owner). Not while a deal is under way or an auction has bids."""
    listing = get_owned(user, listing_id)
    if listing.status in TRANSITIONS["withdraw"][0] and listing.auction is not None \
            and listing.status == "published" and listing.auction.bid_count:
        raise Conflict(_("拍卖已有出价，不能撤回"), status=listing.status)
    _transition(listing, "withdraw")
    db.session.flush()
    return listing


def reopen_listing(user, listing_id):
    """A withdrawn listing back to draft, to edit and submit again (owner)."""
    listing = get_owned(user, listing_id)
    ensure_can(user, "list")
    _transition(listing, "reopen")
    listing.published_at = None
    db.session.flush()
    return listing


# Columns of a listing a relist copies (rights and auction terms are copied on their own).
# Not copied: the status and dates, the grade (graded again like any new listing), the
# rejection reason and the version.
RELIST_COLUMNS = ("kind", "title", "description", "deal_types", "price_mode", "price", "offer_floor", "currency",
                  "region", "image", "pledge_consent", "license_territory", "license_field", "license_years")


def relisted_as(listing):
    """The draft ``listing`` was relisted as (a Listing), or None. The link is the ``listing.relist``
    audit row written by :func:`relist_listing`, so no column is needed."""
    from marketplace.models import AuditLog

    row = db.session.execute(
        select(AuditLog).where(AuditLog.action == "listing.relist", AuditLog.object_type == "listing",
                               AuditLog.object_id == listing.id).order_by(AuditLog.id.desc()).limit(1)
    ).scalar_one_or_none()
    new_id = (row.after or {}).get("new_listing_id") if row is not None else None
    return db.session.get(Listing, new_id) if isinstance(new_id, int) else None


def relist_listing(user, listing_id, *, now=None):
    """Copy an expired listing into a NEW draft of the same organisation (owner). Returns (draft, warnings).

    The copy has the same rights, title, description, deal types, region, licence terms, price
    mode and prices; an auction keeps its start price, reserve and increment and closes
    ``RELIST_AUCTION_DAYS`` after now by default (the seller sets the real close before
    submitting). The expired listing stays ``expired``, with its auction, bids and deals, as
    history. Nothing is validated here beyond ownership and state: submitting the draft checks
    the rights (term, legal status, pledge consent, auction close) as for any listing.

    An expired listing is relisted once: a second relist is a 409 naming the first copy
    (``listing_id``), which the seller edits, reopens or relists in turn.
    """
    listing = get_owned(user, listing_id)
    ensure_can(user, "list")
    if listing.status not in TRANSITIONS["relist"][0]:
        _transition(listing, "relist")  # raises with the current state
    earlier = relisted_as(listing)
    if earlier is not None:
        raise Conflict(_("该挂牌已重新发布为 #%(id)s（%(status)s），请在该挂牌上继续操作", id=earlier.id,
                         status=_(STATUS_LABELS.get(earlier.status, earlier.status))),
                       listing_id=earlier.id, status=listing.status)
    now = now or utcnow()
    draft = Listing(status="draft", seller_id=user.id, organization_id=listing.organization_id,
                    **{key: getattr(listing, key) for key in RELIST_COLUMNS})
    draft.deal_types = list(listing.deal_types or [])
    for right in listing.rights:
        draft.rights.append(Right(**{c.key: getattr(right, c.key) for c in Right.__table__.columns
                                     if c.key not in ("id", "listing_id")}))
    if listing.price_mode == "auction" and listing.auction is not None:
        old = listing.auction
        draft.auction = Auction(start_price=old.start_price, reserve_price=old.reserve_price,
                                min_increment=old.min_increment,
                                ends_at=(now + timedelta(days=RELIST_AUCTION_DAYS)).replace(second=0, microsecond=0))
    db.session.add(draft)
    db.session.flush()
    audit.record(user, "listing.relist", "listing", listing.id,
                 before={"status": listing.status}, after={"new_listing_id": draft.id})
    return draft, _warnings(draft, local(now).date())


def lapse_reservation(listing):
    """reserved → expired (escrow calls this when the deal of a won auction is cancelled or refunded:
    the auction is closed, so the listing cannot take bids again) and tell the seller they may relist."""
    _transition(listing, "lapse")
    notify(listing.seller_id, "listing", f"挂牌已到期：{listing.title}",
           "拍卖成交后交易已取消，拍卖已结束，挂牌不能再出价或购买。"
           "您可以在“我的挂牌”中重新发布：系统会复制为新的草稿（可调整起拍价和结束时间），提交审核后再次上架。",
           link=f"/listings/{listing.id}")
    db.session.flush()


def right_expiry(right):
    if right.kind == "patent":
        if not right.patent_type:
            return None
        return ids.expiry_date("patent", patent_type=right.patent_type, filing_date=right.filing_date)
    return ids.expiry_date("trademark", registration_date=right.registration_date)


def listing_expiry(listing):
    """The earliest end of term among the listing's rights (a portfolio is only as live as its shortest right)."""
    days = [d for d in (right_expiry(r) for r in listing.rights) if d]
    return min(days) if days else None


def expire_due_listings(now=None):
    """Mark listings whose rights' term has ended as expired (safe to run from cron and twice). Returns ids."""
    now = now or utcnow()
    today = local(now).date()
    expired = []
    candidates = select(Listing).where(Listing.status.in_(tuple(TRANSITIONS["expire"][0])))
    for listing in db.session.scalars(candidates):
        ends = listing_expiry(listing)
        if ends and ends <= today:
            if listing.auction is not None and listing.auction.bid_count and listing.status == "published":
                continue  # an auction with bids closes through the deadlines run
            _transition(listing, "expire")
            notify(listing.seller_id, "listing", f"挂牌已过期：{listing.title}",
                   f"权利保护期已于 {ends.isoformat()} 届满，挂牌已下架。", link=f"/listings/{listing.id}")
            expired.append(listing.id)
    db.session.flush()
    return expired


def mark_sold(listing):
    """reserved → sold (escrow calls this when a deal completes)."""
    _transition(listing, "sell")
    db.session.flush()


def release_reservation(listing):
    """reserved → published (escrow calls this when a deal is cancelled or refunded)."""
    _transition(listing, "release")
    db.session.flush()


# --- uploads and bundling -----------------------------------------------------------

def attach_pledge_consent(user, listing_id, file_storage):
    """Store the pledgee's consent (PDF, PNG or JPEG) for a pledged patent offered for assignment."""
    listing = get_owned(user, listing_id)
    if listing.status not in EDITABLE_STATUSES:
        raise IllegalTransition(_("只有草稿或被驳回的挂牌可以修改"), status=listing.status)
    stored, _kind, _size, _name = save_upload(file_storage, field="pledge_consent", area="docs")
    listing.pledge_consent = stored
    db.session.flush()
    return listing


def attach_image(user, listing_id, file_storage):
    """Store the trademark's image (PNG or JPEG, at most IMAGE_MAX_BYTES, 2 MB by default)."""
    listing = get_owned(user, listing_id)
    if listing.status not in EDITABLE_STATUSES:
        raise IllegalTransition(_("只有草稿或被驳回的挂牌可以修改"), status=listing.status)
    if listing.kind != "trademark":
        raise ValidationError(_("只有商标挂牌可以上传商标图样"), {"image": _("专利挂牌不需要商标图样")})
    stored, _kind, _size, _name = save_upload(file_storage, allowed=("png", "jpeg"), field="image", area="images",
                                              max_bytes=current_app.config.get("IMAGE_MAX_BYTES", 2 * 1024 * 1024))
    listing.image = stored
    db.session.flush()
    return listing


def bundle_similar_marks(user, listing_id, other_ids, *, now=None):
    """Carry the organisation's identical/similar marks into this assignment listing.

    The marks are copied into this listing and the listings they came from are
    withdrawn, since such marks may only be assigned together.
    """
    listing = get_owned(user, listing_id)
    if listing.status not in EDITABLE_STATUSES:
        raise IllegalTransition(_("只有草稿或被驳回的挂牌可以合并商标"), status=listing.status)
    offered = {other.id: other for other, _ in similar_marks(listing)}
    wanted = [int(i) for i in other_ids]
    missing = [i for i in wanted if i not in offered]
    if missing:
        raise ValidationError(_("只能合并本单位含近似商标的挂牌"), {"bundle": _("不可合并：%(ids)s", ids=", ".join(map(str, missing)))})
    numbers = {r.number for r in listing.rights}
    position = len(listing.rights)
    for other_id in wanted:
        other = offered[other_id]
        for right in other.rights:
            if right.number in numbers:
                continue
            copy = Right(**{c.key: getattr(right, c.key) for c in Right.__table__.columns
                            if c.key not in ("id", "listing_id", "position")})
            copy.position = position
            position += 1
            listing.rights.append(copy)
            numbers.add(right.number)
        if other.status != "withdrawn":
            _transition(other, "withdraw")
    db.session.flush()
    return listing, _warnings(listing, local(now or utcnow()).date())


def warnings_for(listing, now=None):
    return _warnings(listing, local(now or utcnow()).date())


# --- queries ----------------------------------------------------------------------

def listings_of(user, status=None):
    """The listings of the user's organisation, newest first."""
    query = select(Listing).where(Listing.organization_id == user.organization_id).order_by(Listing.id.desc())
    if status:
        query = query.where(Listing.status == status)
    return list(db.session.scalars(query))


def review_queue():
    return list(db.session.scalars(select(Listing).where(Listing.status == "pending_review")
                                   .order_by(Listing.submitted_at, Listing.id)))
