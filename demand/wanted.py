"""Wanted ads (求购): validation, posting, light operator review, closing, browsing with facets.

Rules (each refused with a ValidationError naming the field, nothing written):
- kind is patent or trademark; a title (4–120 characters) and at most MAX_DESCRIPTION characters of plain text
  (no control characters; shown escaped, never as markup);
- the field: an IPC section ("H") or subclass ("H01M") that exists in the scheme (listings.classifications), or
  Nice classes 1–45 (at most 10); keywords: at most MAX_KEYWORDS words of at most 20 characters;
- deal types from the listings' vocabulary (at least one); a budget range in fen with min <= max, or 面议
  (``negotiable``: no budget); a region of marketplace.kernel.regions; an expiry date after today and at most
  MAX_EXPIRY_DAYS ahead;
- a buyer holds at most MAX_OPEN_WANTED ads under review or published at once (the routes are rate limited too).

Status: pending_review -> published | rejected (an operator, with a reason), published -> closed (the buyer).
An ad past its expiry is no longer open (it stays visible to its owner). Publishing queues it for matching
(``match_pending``); the matching drain (demand.matching) does the work outside the request.
"""
from datetime import datetime, time, timedelta, timezone

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select

from listings.classifications import ipc_scheme
from listings.models import DEAL_TYPES, KINDS
from marketplace.kernel import audit
from marketplace.kernel.credit import ensure_can
from marketplace.kernel.errors import Conflict, NotFound, PermissionDenied, ValidationError
from marketplace.kernel.extensions import db
from marketplace.kernel.i18n import N_
from marketplace.kernel.messages import msg
from marketplace.kernel.notify import has_control_chars, notify
from marketplace.kernel.numbers import NumberError, parse_int
from marketplace.kernel.regions import REGIONS
from marketplace.kernel.timeutil import SHANGHAI, iso, local, utcnow

from .models import DemandMatch, WantedAd

MAX_TITLE, MIN_TITLE = 120, 4
MAX_DESCRIPTION = 2000
MAX_KEYWORDS, MAX_KEYWORD_CHARS = 8, 20
MAX_NICE = 10
MAX_EXPIRY_DAYS = 365
MAX_BUDGET = 10**13  # fen (1000 亿元)
MAX_REASON = 500
PER_PAGE = 20
MAX_QUERY = 100  # characters of a browsing query
MAX_BROWSE_PAGE = 1000
MAX_SCAN = 5000  # browsing reads at most this many open ads (newest first) for filters and facets


def _text(value, field, fields, maximum, minimum=0, required=False):
    if value is None:
        value = ""
    if not isinstance(value, str):
        fields[field] = _("应为文本")
        return ""
    value = value.strip()
    if required and not value:
        fields[field] = _("必填")
    elif len(value) > maximum:
        fields[field] = _("最多 %(n)s 个字符", n=maximum)
    elif value and len(value) < minimum:
        fields[field] = _("至少 %(n)s 个字符", n=minimum)
    elif has_control_chars(value.replace("\n", "").replace("\r", "")):
        fields[field] = _("不能包含控制字符")
    return value


def _list(value):
    """A list from JSON (a list) or a form (comma / space separated text, or several values)."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [part for part in value.replace("，", ",").replace(",", " ").split() if part]
    if isinstance(value, (list, tuple)):
        return list(value)
    return None


def normalise_ipc_field(value):
    """'h01m' -> 'H01M'; None when it is not a section or subclass of the scheme."""
    code = value.strip().upper().replace(" ", "") if isinstance(value, str) else ""
    entry = ipc_scheme().get(code)
    if entry is None or entry.level not in ("section", "subclass"):
        return None
    return code


def _budget(raw, field, fields):
    if raw in (None, ""):
        return None
    try:
        return parse_int(raw, minimum=1, maximum=MAX_BUDGET)
    except NumberError as exc:
        fields[field] = str(exc) if str(exc) else _("应为正整数（分）")
        return None


def _expiry(raw, fields, now):
    """The end of the given day (Asia/Shanghai) as naive UTC; after today, at most MAX_EXPIRY_DAYS ahead."""
    if raw in (None, ""):
        fields["expires_at"] = _("必填")
        return None
    if not isinstance(raw, str) or len(raw) > 32:
        fields["expires_at"] = _("日期格式为 YYYY-MM-DD")
        return None
    try:
        day = datetime.strptime(raw.strip()[:10], "%Y-%m-%d").date()
    except ValueError:
        fields["expires_at"] = _("日期格式为 YYYY-MM-DD")
        return None
    today = local(now).date()
    if day <= today:
        fields["expires_at"] = _("截止日期必须晚于今天")
        return None
    if day > today + timedelta(days=MAX_EXPIRY_DAYS):
        fields["expires_at"] = _("截止日期最多在 %(n)s 天之后", n=MAX_EXPIRY_DAYS)
        return None
    end = datetime.combine(day, time(23, 59, 59), tzinfo=SHANGHAI)
    return end.astimezone(timezone.utc).replace(tzinfo=None)


def clean(data, now=None):
    """Validate a wanted ad's fields (a dict from JSON or a form); returns the values or raises naming each field."""
    now = now or utcnow()
    fields = {}
    values = {}
    kind = data.get("kind")
    if kind not in KINDS:
        fields["kind"] = _("可选：%(options)s", options=", ".join(KINDS))
    values["kind"] = kind
    values["title"] = _text(data.get("title"), "title", fields, MAX_TITLE, MIN_TITLE, required=True)
    values["description"] = _text(data.get("description"), "description", fields, MAX_DESCRIPTION)
    keywords = _list(data.get("keywords"))
    if keywords is not None and len(keywords) > MAX_KEYWORDS:
        fields["keywords"] = _("最多 %(n)s 个关键词", n=MAX_KEYWORDS)
        keywords = []
    elif keywords is None or any(not isinstance(k, str) for k in keywords):
        fields["keywords"] = _("应为关键词列表")
        keywords = []
    keywords = list(dict.fromkeys(k.strip() for k in keywords if k.strip()))
    if len(keywords) > MAX_KEYWORDS:
        fields["keywords"] = _("最多 %(n)s 个关键词", n=MAX_KEYWORDS)
    elif any(len(k) > MAX_KEYWORD_CHARS or has_control_chars(k) for k in keywords):
        fields["keywords"] = _("每个关键词最多 %(n)s 个字符", n=MAX_KEYWORD_CHARS)
    values["keywords"] = keywords
    ipc = data.get("ipc")
    values["ipc"] = None
    if ipc not in (None, ""):
        values["ipc"] = normalise_ipc_field(ipc)
        if values["ipc"] is None:
            fields["ipc"] = _("IPC 分类不存在：请填部（如 H）或小类（如 H01M）")
    nice = _list(data.get("nice_classes"))
    classes = []
    if nice is not None and len(nice) > MAX_NICE:
        fields["nice_classes"] = _("最多 %(n)s 个尼斯分类", n=MAX_NICE)
        nice = []
    if nice is None:
        fields["nice_classes"] = _("应为尼斯分类列表")
    else:
        for item in nice:
            try:
                classes.append(parse_int(item, minimum=1, maximum=45, max_digits=2))
            except NumberError:
                fields["nice_classes"] = _("尼斯分类为 1–45")
                break
    classes = sorted(set(classes))
    if len(classes) > MAX_NICE:
        fields["nice_classes"] = _("最多 %(n)s 个尼斯分类", n=MAX_NICE)
    values["nice_classes"] = classes
    if kind == "patent" and classes:
        fields["nice_classes"] = _("专利求购按 IPC 分类，不填尼斯分类")
    if kind == "trademark" and values["ipc"]:
        fields["ipc"] = _("商标求购按尼斯分类，不填 IPC 分类")
    if not (values["ipc"] or classes or keywords) and "kind" not in fields:
        fields["keywords"] = _("请至少填写技术领域、尼斯分类或关键词之一")
    deal_types = _list(data.get("deal_types"))
    if not deal_types or any(d not in DEAL_TYPES for d in deal_types):
        fields["deal_types"] = _("至少选一种，可选：%(options)s", options=", ".join(DEAL_TYPES))
        deal_types = []
    values["deal_types"] = [d for d in DEAL_TYPES if d in set(deal_types)]
    negotiable = data.get("negotiable") in (True, "1", "on", "true", "y")
    low, high = _budget(data.get("budget_min"), "budget_min", fields), _budget(data.get("budget_max"), "budget_max",
                                                                               fields)
    if negotiable:
        low = high = None
    elif low is None and high is None and "budget_min" not in fields and "budget_max" not in fields:
        fields["budget_max"] = _("请填写预算范围，或选择面议")
    elif low is not None and high is not None and low > high:
        fields["budget_max"] = _("最高预算不能低于最低预算")
    values["budget_min"], values["budget_max"] = low, high
    region = data.get("region") or "other"
    if not isinstance(region, str) or region not in REGIONS:
        fields["region"] = _("未知地区")
        region = "other"
    values["region"] = region
    values["hide_name"] = data.get("hide_name") in (True, "1", "on", "true", "y")
    values["expires_at"] = _expiry(data.get("expires_at"), fields, now)
    if fields:
        raise ValidationError(_("求购信息有误"), fields)
    return values


def open_count(user):
    return db.session.query(WantedAd).filter(
        WantedAd.buyer_id == user.id, WantedAd.status.in_(("pending_review", "published")),
        WantedAd.expires_at > utcnow()).count()


def post(user, data, now=None):
    """A buyer posts a wanted ad; it waits for review. Returns the new ad (flushed)."""
    if not user.has_role("buyer"):
        raise PermissionDenied(_("只有买方账户可以发布求购"))
    ensure_can(user, "offer")
    now = now or utcnow()
    values = clean(data, now)
    cap = current_app.config.get("MAX_OPEN_WANTED", 20)
    if open_count(user) >= cap:
        raise Conflict(_("您已有 %(n)s 条进行中的求购，请先关闭一些", n=cap))
    ad = WantedAd(buyer_id=user.id, organization_id=user.organization_id, created_at=now, updated_at=now, **values)
    db.session.add(ad)
    db.session.flush()
    return ad


def is_open(ad, now=None):
    return ad.status == "published" and ad.expires_at > (now or utcnow())


def is_owner(ad, user):
    return user is not None and getattr(user, "is_authenticated", True) and user.id == ad.buyer_id


def visible(ad_id, user):
    """The ad if ``user`` may see it: the public sees published ads (expired ones too, marked so); the owner and
    operators see everything. Others get a 404."""
    ad = db.session.get(WantedAd, ad_id) if isinstance(ad_id, int) else None
    if ad is None:
        raise NotFound(_("求购不存在"))
    if ad.status in ("published", "closed") and ad.published_at is not None:
        return ad
    if user is not None and getattr(user, "is_authenticated", True) and (is_owner(ad, user) or user.is_operator):
        return ad
    raise NotFound(_("求购不存在"))


def review(ad_id, operator, decision, reason="", now=None):
    if not operator.is_operator:
        raise PermissionDenied(_("只有运营人员可以审核求购"))
    ad = db.session.get(WantedAd, ad_id)
    if ad is None:
        raise NotFound(_("求购不存在"))
    if decision not in ("approve", "reject"):
        raise ValidationError(_("审核结论有误"), {"decision": _("可选：approve, reject")})
    reason = (reason or "").strip() if isinstance(reason, str) else ""
    if decision == "reject" and not reason:
        raise ValidationError(_("驳回需要说明理由"), {"reason": _("必填")})
    if len(reason) > MAX_REASON or has_control_chars(reason):
        raise ValidationError(_("理由过长或含控制字符"), {"reason": _("最多 %(n)s 个字符", n=MAX_REASON)})
    if ad.status != "pending_review":
        raise Conflict(_("该求购不在待审核状态"))
    now = now or utcnow()
    before = {"status": ad.status}
    if decision == "approve":
        ad.status, ad.published_at, ad.match_pending = "published", now, True
        notify(ad.buyer_id, "wanted", msg(N_("您的求购已发布：%(t)s"), t=ad.title[:60]), "", link=f"/wanted/{ad.id}")
    else:
        ad.status, ad.rejection_reason = "rejected", reason
        notify(ad.buyer_id, "wanted", msg(N_("您的求购未通过审核：%(t)s"), t=ad.title[:60]), reason, link=f"/wanted/{ad.id}")
    ad.reviewed_by, ad.updated_at = operator.id, now
    audit.record(operator, f"wanted.{decision}", "wanted_ad", ad.id, before, {"status": ad.status, "reason": reason})
    return ad


def close(ad_id, user, now=None):
    ad = visible(ad_id, user)
    if not is_owner(ad, user):
        raise PermissionDenied(_("只有发布者可以关闭求购"))
    if ad.status not in ("pending_review", "published"):
        raise Conflict(_("该求购已关闭"))
    ad.status, ad.updated_at, ad.match_pending = "closed", now or utcnow(), False
    return ad


def pending_review(limit=200):
    return db.session.execute(select(WantedAd).where(WantedAd.status == "pending_review")
                              .order_by(WantedAd.id).limit(limit)).scalars().all()


def mine(user):
    return db.session.execute(select(WantedAd).where(WantedAd.buyer_id == user.id)
                              .order_by(WantedAd.id.desc()).limit(200)).scalars().all()


# --- browsing ------------------------------------------------------------------------------------

FILTERS = ("q", "kind", "ipc_section", "nice_class", "deal_type", "region", "page")


def parse_browse(args):
    """Browse arguments (request.args or a dict) read by ``demand.schemas.WantedQuery`` (the API's documented
    query), refused naming the field. An empty value is "not given", as a form sends it."""
    from marketplace.kernel.schemas import SchemaError, flat_errors

    from .schemas import WantedQuery  # the schema reads this module's bounds

    given = {key: args.get(key) for key in FILTERS if args.get(key) not in (None, "")}
    try:
        out = WantedQuery().load(given)
    except SchemaError as exc:
        raise ValidationError(_("参数有误"), flat_errors(exc.messages)) from None
    out = {key: out.get(key) for key in FILTERS}
    out["q"] = (out["q"] or "").strip()
    out["page"] = out["page"] or 1
    return out


def _matches_filters(ad, f):
    if f["nice_class"] and f["nice_class"] not in (ad.nice_classes or []):
        return False
    if f["deal_type"] and f["deal_type"] not in (ad.deal_types or []):
        return False
    if f["q"]:
        text = " ".join([ad.title, ad.description or "", *(ad.keywords or [])]).lower()
        if not all(word in text for word in f["q"].lower().split()[:8]):
            return False
    return True


def browse(f, now=None):
    """Open ads matching ``f`` (newest first), a page of them, the total and facet counts."""
    now = now or utcnow()
    query = select(WantedAd).where(WantedAd.status == "published", WantedAd.expires_at > now)
    if f["kind"]:
        query = query.where(WantedAd.kind == f["kind"])
    if f["region"]:
        query = query.where(WantedAd.region == f["region"])
    if f["ipc_section"]:
        query = query.where(WantedAd.ipc.like(f"{f['ipc_section']}%"))
    rows = db.session.execute(query.order_by(WantedAd.published_at.desc(), WantedAd.id.desc())
                              .limit(MAX_SCAN)).scalars().all()
    rows = [ad for ad in rows if _matches_filters(ad, f)]
    facets = {"kind": {}, "ipc_section": {}, "nice_class": {}, "deal_type": {}, "region": {}}
    for ad in rows:
        facets["kind"][ad.kind] = facets["kind"].get(ad.kind, 0) + 1
        if ad.ipc:
            facets["ipc_section"][ad.ipc[0]] = facets["ipc_section"].get(ad.ipc[0], 0) + 1
        for c in ad.nice_classes or []:
            facets["nice_class"][c] = facets["nice_class"].get(c, 0) + 1
        for d in ad.deal_types or []:
            facets["deal_type"][d] = facets["deal_type"].get(d, 0) + 1
        facets["region"][ad.region] = facets["region"].get(ad.region, 0) + 1
    start = (f["page"] - 1) * PER_PAGE
    return {"total": len(rows), "results": rows[start:start + PER_PAGE], "facets": facets}


def buyer_label(ad, viewer=None):
    """The buyer's public name: the organisation (or the person), or 匿名买家 when hidden (not to the owner)."""
    if ad.hide_name and not (viewer is not None and getattr(viewer, "is_authenticated", False)
                             and (is_owner(ad, viewer) or viewer.is_operator)):
        return _("匿名买家")
    if ad.organization is not None:
        return ad.organization.name
    return ad.buyer.name if ad.buyer else ""


def ad_json(ad, viewer=None):
    owner = viewer is not None and getattr(viewer, "is_authenticated", False) and (
        is_owner(ad, viewer) or viewer.is_operator)
    body = {"id": ad.id, "kind": ad.kind, "title": ad.title, "description": ad.description,
            "keywords": list(ad.keywords or []), "ipc": ad.ipc, "nice_classes": list(ad.nice_classes or []),
            "deal_types": list(ad.deal_types or []), "budget_min": ad.budget_min, "budget_max": ad.budget_max,
            "negotiable": ad.budget_min is None and ad.budget_max is None, "region": ad.region,
            "buyer": buyer_label(ad, viewer), "status": ad.status, "open": is_open(ad),
            "expires_at": iso(ad.expires_at), "published_at": iso(ad.published_at)}
    if owner:
        body["hide_name"] = ad.hide_name
        body["rejection_reason"] = ad.rejection_reason
        body["match_count"] = db.session.query(DemandMatch).filter_by(wanted_id=ad.id).count()
    return body
