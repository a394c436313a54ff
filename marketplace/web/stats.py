"""Market statistics (公共服务: 交易统计与分析): aggregated counts and values, never one deal's price or party.

Public figures:
- listings that are or were on the market (published, reserved, sold) by kind, patent
  type, IPC section, Nice class, region and grade (a listing with several rights counts
  once in each category it touches);
- deals that were paid for (funded and later; not cancelled or refunded) by month
  (Asia/Shanghai, month the deal was agreed) and by deal type, as counts; their value
  per month only where at least ``MIN_CELL`` deals make it up, so that no single
  negotiated price can be read off, and totals are sums of shown months only;
- days from funding to recordal (DealEvent timestamps): count, median, mean, histogram.
The operator view adds every status and state, unsuppressed values, values per deal
type, and per-organisation counts.
"""
import csv
import os
import statistics
from collections import Counter, defaultdict
from decimal import Decimal

from flask import current_app
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

from demand.stats import summary
from escrow.models import DEAL_STATES, Deal, DealEvent
from escrow.royalties import stats
from listings.classifications import ipc_section_name, nice_label
from listings.models import LISTING_STATUSES, Listing, ListingRight, Right

from ..kernel import jobs, labels
from ..kernel.extensions import db
from ..kernel.models import Organization, User
from ..kernel.regions import REGIONS, region_label
from ..kernel.reports import MIN_CELL, rows_response, safe_cell
from ..kernel.timeutil import local, utcnow
from .charts import bar_chart

PUBLIC_LISTING_STATUSES = ("published", "reserved", "sold")
DEALT_STATES = ("funded", "transfer_filed", "transfer_recorded", "released", "completed", "disputed")
RECORDAL_BUCKETS = ((30, "≤30"), (60, "31–60"), (90, "61–90"), (180, "91–180"), (None, ">180"))

KIND_LABELS = labels.lazy(labels.KIND)
PATENT_TYPE_LABELS = labels.lazy(labels.PATENT_TYPE)
DEAL_TYPE_LABELS = labels.lazy(labels.DEAL_TYPE)
STATUS_LABELS = labels.lazy(labels.LISTING_STATUS)
DEAL_STATE_LABELS = labels.lazy(labels.DEAL_STATE)
GRADE_LABELS = {"A": "A", "B": "B", "C": "C", "D": "D", None: _l("未分级")}
CREDIT_LABELS = labels.lazy(labels.CREDIT_LEVEL)
DIMENSION_LABELS = {
    "kind": _l("挂牌类型"), "patent_type": _l("专利类型"), "ipc_section": _l("IPC 部"), "nice_class": _l("尼斯分类"),
    "region": _l("地区"), "grade": _l("质量等级"), "status": _l("挂牌状态"), "deal_month": _l("成交月份"),
    "deal_type": _l("交易方式"), "deal_state": _l("交易状态"), "recordal_days": _l("付款至登记天数"),
    "organization": _l("单位"), "credit_org": _l("单位信用等级"), "credit_user": _l("用户信用等级"),
    "month_type": _l("月份 × 交易方式"),
}


def _locale():
    return str(get_locale() or "zh_CN")


def ipc_section_label(letter):
    try:
        name = ipc_section_name(letter, _locale())
    except Exception:  # noqa: BLE001 - labels are a nicety; the letter alone is still right
        name = ""
    return f"{letter} {name}".strip()


def nice_class_label(number):
    try:
        return nice_label(number, _locale())
    except Exception:  # noqa: BLE001
        return str(number)


# --- gathering ------------------------------------------------------------------------------

def _listing_counts(statuses):
    """{dimension: Counter} over listings in ``statuses``; each listing counts once per category."""
    listings = (db.session.query(Listing.id, Listing.kind, Listing.region, Listing.grade, Listing.status,
                                 Listing.organization_id)
                .filter(Listing.status.in_(statuses)).all())
    out = {name: Counter() for name in ("kind", "patent_type", "ipc_section", "nice_class", "region", "grade",
                                        "status")}
    for row in listings:
        out["kind"][row.kind] += 1
        out["region"][row.region] += 1
        out["grade"][row.grade] += 1
        out["status"][row.status] += 1
    touched = defaultdict(set)
    rights = (db.session.query(ListingRight.listing_id, Right.patent_type, Right.ipc_codes, Right.nice_classes)
              .join(Right, Right.id == ListingRight.right_id)
              .join(Listing, Listing.id == ListingRight.listing_id).filter(Listing.status.in_(statuses)).all())
    for row in rights:
        if row.patent_type:
            touched[("patent_type", row.patent_type)].add(row.listing_id)
        for code in row.ipc_codes or ():
            letter = str(code).strip()[:1].upper()
            if letter in "ABCDEFGH" and letter:
                touched[("ipc_section", letter)].add(row.listing_id)
        for number in row.nice_classes or ():
            try:
                touched[("nice_class", int(number))].add(row.listing_id)
            except (TypeError, ValueError):
                continue
    for (dimension, key), ids in touched.items():
        out[dimension][key] = len(ids)
    return out, len(listings)


def _deal_rows(states):
    return (db.session.query(Deal.id, Deal.created_at, Deal.deal_type, Deal.price, Deal.state, Deal.organization_id,
                             Deal.buyer_id).filter(Deal.state.in_(states)).all())


def _recordal_days(deal_ids):
    """Days from the first funding event to the first recordal event, per deal that has both."""
    if not deal_ids:
        return []
    firsts = {}
    events = (db.session.query(DealEvent.deal_id, DealEvent.to_state, DealEvent.created_at)
              .filter(DealEvent.deal_id.in_(deal_ids), DealEvent.to_state.in_(("funded", "transfer_recorded")))
              .order_by(DealEvent.id).all())
    for ev in events:
        firsts.setdefault((ev.deal_id, ev.to_state), ev.created_at)
    days = []
    for deal_id in deal_ids:
        funded, recorded = firsts.get((deal_id, "funded")), firsts.get((deal_id, "transfer_recorded"))
        if funded and recorded and recorded >= funded:
            days.append((recorded - funded).total_seconds() / 86400)
    return days


def _recordal_summary(days):
    buckets = Counter()
    for d in days:
        for limit, label in RECORDAL_BUCKETS:
            if limit is None or d <= limit:
                buckets[label] += 1
                break
    return {
        "count": len(days),
        "median_days": round(statistics.median(days), 1) if days else None,
        "mean_days": round(statistics.fmean(days), 1) if days else None,
        "buckets": [(label, buckets[label]) for _limit, label in RECORDAL_BUCKETS],
    }


def _month(value):
    return local(value).strftime("%Y-%m")


def _deal_summary(rows, *, suppress):
    by_month = defaultdict(lambda: {"count": 0, "value": 0})
    by_type = defaultdict(lambda: {"count": 0, "value": 0})
    month_type = Counter()
    for row in rows:
        month = _month(row.created_at)
        by_month[month]["count"] += 1
        by_month[month]["value"] += row.price
        by_type[row.deal_type]["count"] += 1
        by_type[row.deal_type]["value"] += row.price
        month_type[(month, row.deal_type)] += 1
    months = []
    for month in sorted(by_month):
        cell = by_month[month]
        shown = not suppress or cell["count"] >= MIN_CELL
        months.append({"month": month, "count": cell["count"], "value": cell["value"] if shown else None})
    types = []
    for key in list(DEAL_TYPE_LABELS) + sorted(set(by_type) - set(DEAL_TYPE_LABELS)):
        if key in by_type:
            types.append({"deal_type": key, "count": by_type[key]["count"],
                          "value": None if suppress else by_type[key]["value"]})
    return {
        "count": len(rows),
        "by_month": months,
        "by_type": types,
        "month_type": sorted(([m, t, n] for (m, t), n in month_type.items())),
        "value_shown": sum(m["value"] for m in months if m["value"] is not None),
        "months_suppressed": sum(1 for m in months if m["value"] is None),
    }


def _ordered(counter, order=None, *, by_count=False):
    if order is not None:
        keys = [k for k in order if counter.get(k)] + sorted((k for k in counter if k not in order and counter[k]),
                                                              key=str)
    elif by_count:
        keys = sorted((k for k in counter if counter[k]), key=lambda k: (-counter[k], str(k)))
    else:
        keys = sorted(k for k in counter if counter[k])
    return [(k, counter[k]) for k in keys]


def _listing_section(counts):
    return {
        "kind": _ordered(counts["kind"], list(KIND_LABELS)),
        "patent_type": _ordered(counts["patent_type"], list(PATENT_TYPE_LABELS)),
        "ipc_section": _ordered(counts["ipc_section"], list("ABCDEFGH")),
        "nice_class": _ordered(counts["nice_class"]),
        "region": _ordered(counts["region"], by_count=True),
        "grade": _ordered(counts["grade"], ["A", "B", "C", "D", None]),
    }


def _demand():
    """Wanted ads posted, matched and converted to deals (demand.stats; issue 22)."""
    return summary()


def _licensing(suppress):
    """Open licences declared and taken, and the royalty volume (escrow.royalties.stats; issue 16)."""
    return stats(suppress=suppress)


def public_stats(now=None):
    """What anyone may see: aggregated, with small value cells suppressed."""
    counts, total = _listing_counts(PUBLIC_LISTING_STATUSES)
    rows = _deal_rows(DEALT_STATES)
    return {
        "generated_at": now or utcnow(),
        "operator": False,
        "listings_total": total,
        "listings": _listing_section(counts),
        "deals": _deal_summary(rows, suppress=True),
        "recordal": _recordal_summary(_recordal_days([r.id for r in rows])),
        "demand": _demand(),
        "licensing": _licensing(True),
        "min_cell": MIN_CELL,
    }


def operator_stats(now=None):
    """The public figures over every status and state, unsuppressed, plus per-organisation and credit counts."""
    counts, total = _listing_counts(LISTING_STATUSES)
    listings = _listing_section(counts)
    listings["status"] = _ordered(counts["status"], list(LISTING_STATUSES))
    rows = _deal_rows(DEALT_STATES)
    all_states = dict(db.session.query(Deal.state, db.func.count(Deal.id)).group_by(Deal.state).all())
    orgs = _organization_rows(rows)
    return {
        "generated_at": now or utcnow(),
        "operator": True,
        "listings_total": total,
        "listings": listings,
        "deals": _deal_summary(rows, suppress=False),
        "deal_states": [(s, all_states.get(s, 0)) for s in DEAL_STATES if all_states.get(s)],
        "recordal": _recordal_summary(_recordal_days([r.id for r in rows])),
        "organizations": orgs,
        "credit_org": _ordered(Counter(dict(db.session.query(Organization.credit_level, db.func.count(Organization.id))
                                            .group_by(Organization.credit_level).all())), list(CREDIT_LABELS)),
        "credit_user": _ordered(Counter(dict(db.session.query(User.credit_level, db.func.count(User.id))
                                             .group_by(User.credit_level).all())), list(CREDIT_LABELS)),
        "verified_orgs": db.session.query(Organization).filter(Organization.verified.is_(True)).count(),
        "demand": _demand(),
        "licensing": _licensing(False),
        "min_cell": MIN_CELL,
    }


def _organization_rows(deal_rows, limit=50):
    """Per organisation: listings by status group, deals sold and their value, deals bought."""
    listed = defaultdict(Counter)
    for org_id, status, n in (db.session.query(Listing.organization_id, Listing.status, db.func.count(Listing.id))
                              .group_by(Listing.organization_id, Listing.status).all()):
        listed[org_id]["public" if status in PUBLIC_LISTING_STATUSES else "other"] += n
    sold = defaultdict(lambda: [0, 0])
    bought = Counter()
    buyer_org = dict(db.session.query(User.id, User.organization_id).filter(
        User.id.in_({r.buyer_id for r in deal_rows} or {0})).all())
    for row in deal_rows:
        sold[row.organization_id][0] += 1
        sold[row.organization_id][1] += row.price
        if buyer_org.get(row.buyer_id):
            bought[buyer_org[row.buyer_id]] += 1
    ids = set(listed) | set(sold) | set(bought)
    names = {o.id: o for o in db.session.query(Organization).filter(Organization.id.in_(ids or {0})).all()}
    out = []
    for org_id in ids:
        org = names.get(org_id)
        if org is None:
            continue
        out.append({"id": org_id, "name": org.name, "verified": org.verified, "credit_level": org.credit_level,
                    "listings_public": listed[org_id]["public"], "listings_other": listed[org_id]["other"],
                    "deals_sold": sold[org_id][0], "value_sold": sold[org_id][1], "deals_bought": bought[org_id]})
    out.sort(key=lambda r: (-r["value_sold"], -r["listings_public"], r["id"]))
    return out[:limit]


# --- labels, charts and CSV -----------------------------------------------------------------

def label(dimension, key):
    """The reader's-language label of a category key."""
    tables = {"kind": KIND_LABELS, "patent_type": PATENT_TYPE_LABELS, "deal_type": DEAL_TYPE_LABELS,
              "status": STATUS_LABELS, "deal_state": DEAL_STATE_LABELS, "grade": GRADE_LABELS,
              "credit_org": CREDIT_LABELS, "credit_user": CREDIT_LABELS}
    if dimension in tables:
        return str(tables[dimension].get(key, key))
    if dimension == "ipc_section":
        return ipc_section_label(key)
    if dimension == "nice_class":
        return nice_class_label(key)
    if dimension == "region":
        return region_label(key, _locale()) if key in REGIONS else str(key)
    if dimension == "recordal_days":
        return f"{key} " + str(_l("天"))
    return str(key)


def _wan(fen):
    """Fen as 万元 (ten thousand yuan), exactly, to the hundredth."""
    return (Decimal(fen) / 1_000_000).quantize(Decimal("0.01"))


def charts(data, operator=False):
    """{name: inline SVG} for the statistics page (marketplace.web.charts; each beside its data table)."""
    def chart(name, title, labels, values, **options):
        return bar_chart(name, str(title), labels, values, description=_describe(labels, values), **options)

    def categorical(dimension, pairs, horizontal=True):
        return chart(f"stats-{dimension}", DIMENSION_LABELS[dimension], [label(dimension, k) for k, _n in pairs],
                     [n for _k, n in pairs], horizontal=horizontal)

    out = {}
    listings = data["listings"]
    for dimension in ("kind", "patent_type", "ipc_section", "nice_class", "region", "grade"):
        if listings[dimension]:
            out[dimension] = categorical(dimension, listings[dimension],
                                         horizontal=dimension not in ("kind", "grade", "patent_type"))
    if operator and listings.get("status"):
        out["status"] = categorical("status", listings["status"])
    months = data["deals"]["by_month"]
    if months:
        out["deal_month"] = chart("stats-deal-month", _l("每月成交笔数"), [m["month"] for m in months],
                                  [m["count"] for m in months])
        shown = [m for m in months if m["value"] is not None]
        if shown:
            out["deal_value"] = chart("stats-deal-value", _l("每月成交金额（万元）"), [m["month"] for m in shown],
                                      [_wan(m["value"]) for m in shown], formatter=lambda v: f"{v:,.2f}",
                                      counts=False)
    types = data["deals"]["by_type"]
    if types:
        out["deal_type"] = chart("stats-deal-type", _l("按交易方式的成交笔数"),
                                 [label("deal_type", t["deal_type"]) for t in types], [t["count"] for t in types],
                                 horizontal=True)
    recordal = data["recordal"]
    if recordal["count"]:
        out["recordal"] = chart("stats-recordal", _l("付款至权利变更登记的天数"),
                                [label("recordal_days", b) for b, _n in recordal["buckets"]],
                                [n for _b, n in recordal["buckets"]])
    return out


def _describe(labels, values):
    return "；".join(f"{lab}: {val}" for lab, val in zip(labels, values, strict=True))


def csv_rows(data):
    """Tidy rows (dimension, key, label, count, value in yuan) of everything the page shows."""
    rows = [("dimension", "key", "label", "count", "value_cny")]

    def yuan(fen):
        return "" if fen is None else f"{fen // 100}.{fen % 100:02d}"

    rows.append(("listings_total", "", str(_l("挂牌总数")), data["listings_total"], ""))
    for dimension, pairs in data["listings"].items():
        for key, n in pairs:
            rows.append((dimension, "" if key is None else key, label(dimension, key), n, ""))
    deals = data["deals"]
    for m in deals["by_month"]:
        rows.append(("deal_month", m["month"], m["month"], m["count"], yuan(m["value"])))
    for t in deals["by_type"]:
        rows.append(("deal_type", t["deal_type"], label("deal_type", t["deal_type"]), t["count"], yuan(t["value"])))
    for month, deal_type, n in deals["month_type"]:
        rows.append(("month_type", f"{month}/{deal_type}", f"{month} {label('deal_type', deal_type)}", n, ""))
    recordal = data["recordal"]
    for bucket, n in recordal["buckets"]:
        rows.append(("recordal_days", bucket, label("recordal_days", bucket), n, ""))
    rows.append(("recordal_median_days", "", str(_l("中位数（天）")), recordal["median_days"] or "", ""))
    lic = data.get("licensing")
    if lic:
        for key, text in (("open_licences_declared", _l("声明过的开放许可")), ("open_licences_open", _l("开放中的开放许可")),
                          ("open_licences_taken", _l("取得的开放许可")), ("licences_in_force", _l("有效的许可")),
                          ("royalty_periods_paid", _l("已付许可费期数"))):
            rows.append(("licensing", key, str(text), lic[key], ""))
        rows.append(("licensing", "royalty_volume", str(_l("许可费总额")), lic["royalty_licences_paying"],
                     yuan(lic["royalty_volume"])))
    if data.get("operator"):
        for state, n in data["deal_states"]:
            rows.append(("deal_state", state, label("deal_state", state), n, ""))
        for dimension in ("credit_org", "credit_user"):
            for key, n in data[dimension]:
                rows.append((dimension, key, label(dimension, key), n, ""))
        for org in data["organizations"]:
            rows.append(("organization_listings", org["id"], org["name"], org["listings_public"], ""))
            rows.append(("organization_sold", org["id"], org["name"], org["deals_sold"], yuan(org["value_sold"])))
            rows.append(("organization_bought", org["id"], org["name"], org["deals_bought"], ""))
    return rows


def csv_response(data, filename):
    return rows_response(csv_rows(data), filename)


@jobs.job("stats_report")
def stats_report_job():
    """The operator statistics as a CSV file under INSTANCE_PATH/reports (one per UTC day, replaced)."""
    folder = os.path.join(current_app.instance_path, "reports")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"stats-{utcnow():%Y-%m-%d}.csv")
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", newline="", encoding="utf-8-sig") as fh:
        csv.writer(fh).writerows([safe_cell(v) for v in row] for row in csv_rows(operator_stats()))
    os.replace(tmp, path)
    return path
