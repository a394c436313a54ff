"""The demo catalogue: accounts, organisations and 60+ listings built from the real reference data.

Patent titles and IPC subclasses come from ``data/cn_patents_title_ipc.csv`` (CNIPA
publications), abstracts from ``data/cn_patents_abstract_sample.csv``, trademark
classes, similar groups and goods from the Nice / 类似群 tables. Application
numbers are synthesised in the real format with correct check characters
(the publications carry no application number); filing years are estimated from
the publication number ranges. All dates are relative to today, so a seeded
catalogue is always live. Every listing goes through ``service.create_listing``,
so demo rows obey the same validation as real ones.

``seed()`` is idempotent (accounts by e-mail, organisations by USCC, listings
by their first right's number) and commits; ``seed_if_empty()`` seeds only an
empty database (first start with ``DEMO_DATA=1``). Accounts: docs/demo.md.
"""
import csv
import hashlib
import io
from datetime import date, timedelta

from flask import current_app
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage

from marketplace.kernel.accounts import register_user
from marketplace.kernel.extensions import db
from marketplace.kernel.models import Organization, User
from marketplace.kernel.timeutil import local, utcnow
from marketplace.kernel.uscc import uscc_check_char

from . import service
from .classifications import DATA, groups_of_class, similar_items
from .identifiers import InvalidIdentifier, add_years, ipc_scheme, normalize_ipc, patent_check_char
from .lifecycle import transition
from .models import Listing, ListingRight, Right

PASSWORD = "demo-password-2026"
SELLER_EMAIL = "seller@demo.ipmart.cn"
BUYER_EMAIL = "buyer@demo.ipmart.cn"
OPERATOR_EMAIL = "operator@demo.ipmart.cn"

# (key, name, region, verified, uscc body (17 chars), seller e-mail, seller name)
ORGANISATIONS = [
    ("xinghe", "深圳星河智能科技有限公司", "shenzhen", True, "91440300MA5F7YRE7", SELLER_EMAIL, "陈晓星"),
    ("lingnan", "广州岭南理工研究院技术转移中心", "guangzhou", True, "12440100MB2C45178", "ip@lingnan.demo.ipmart.cn", "林志远"),
    ("shunde", "佛山顺德智造机械有限公司", "foshan", True, "91440606MA4W8KQ21", "ip@shunde.demo.ipmart.cn", "何家俊"),
    ("songhu", "东莞松湖新材料有限公司", "dongguan", False, "91441900MA55P3N6X", "ip@songhu.demo.ipmart.cn", "黄敏"),
    ("ciyu", "潮州瓷语文化创意有限公司", "chaozhou", True, "91445100MA52RT0H3", "ip@ciyu.demo.ipmart.cn", "蔡丽娜"),
]
BUYER_ORG = ("珠海海湾电子有限公司", "zhuhai", "91440400MA4UJ9L0K")

# Publication-number prefix → publication year (CNIPA's ranges, approximate).
_INVENTION_PUB_YEAR = {104: 2014, 105: 2015, 106: 2016, 107: 2017, 108: 2018, 109: 2019, 110: 2019, 111: 2020,
                       112: 2020, 113: 2021, 114: 2022, 115: 2022, 116: 2023, 117: 2023, 118: 2024, 119: 2025}
_UTILITY_PUB_YEAR = {203: 2014, 204: 2015, 205: 2016, 206: 2017, 207: 2018, 208: 2018, 209: 2019, 210: 2019,
                     211: 2020, 212: 2020, 213: 2021, 214: 2021, 215: 2021, 216: 2022, 217: 2022, 218: 2023,
                     219: 2023, 220: 2024, 221: 2024}

DESIGNS = [
    ("智能手表（GT3 运动款）", "10-02", "smart watch, sports edition", "xinghe"),
    ("无线蓝牙耳机（降噪款）", "14-01", "wireless earbuds with noise cancelling", "xinghe"),
    ("扫地机器人", "15-05", "robot vacuum cleaner", "shunde"),
    ("电动牙刷（旅行装）", "28-03", "travel electric toothbrush", "shunde"),
    ("青瓷茶具（十二件套）", "07-01", "celadon tea set, twelve pieces", "ciyu"),
    ("户外折叠椅", "06-01", "folding outdoor chair", "shunde"),
    ("LED 护眼台灯", "26-05", "LED desk lamp", "xinghe"),
    ("陶瓷香薰炉", "07-02", "ceramic aroma burner", "ciyu"),
]

# (mark text, classes, org, deal types, English note)
TRADEMARKS = [
    ("星河智联", [9, 42], "xinghe", ["assignment"], None),
    ("星河", [9], "xinghe", ["assignment", "non_exclusive_license"], None),
    ("STARRIVER", [9, 38], "xinghe", ["non_exclusive_license", "exclusive_license"], "Brand for IoT gateways"),
    ("岭南茶韵", [30, 35], "lingnan", ["assignment"], None),
    ("粤味坊", [43, 29], "ciyu", ["assignment", "non_exclusive_license"], None),
    ("青木良品", [20, 21], "songhu", ["assignment"], None),
    ("MOONWAVE", [25, 18], "songhu", ["assignment", "exclusive_license"], "Apparel and bags brand"),
    ("云帆物流", [39], "shunde", ["assignment"], None),
    ("禾田优选", [31, 35], "lingnan", ["assignment"], None),
    ("珠江源", [32], "ciyu", ["assignment", "sole_license"], None),
    ("匠心五金", [6, 8], "shunde", ["assignment"], None),
    ("小鹿乐园", [28, 41], "ciyu", ["non_exclusive_license"], None),
    ("安康医疗", [10, 44], "lingnan", ["assignment"], None),
    ("瓷语", [21, 16], "ciyu", ["assignment"], None),
    ("CLEARPATH", [12, 7], "shunde", ["assignment", "non_exclusive_license"], "Brand for AGV drive units"),
    ("松湖新材", [1, 17], "songhu", ["assignment"], None),
    ("悦享康", [3, 5], "songhu", ["assignment"], None),
    ("知行学堂", [41, 16], "lingnan", ["non_exclusive_license"], None),
]


def _h(text, mod):
    return int(hashlib.sha256(text.encode()).hexdigest()[:12], 16) % mod


def _application_number(year, type_digit, serial):
    digits = f"{year}{type_digit}{serial:07d}"
    return f"{digits}.{patent_check_char(digits)}"


def _uscc(body):
    return body + uscc_check_char(body)


def _rows(name):
    with (DATA / name).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _pub_year(number, table):
    prefix = int(number[2:5])
    return table.get(prefix)


def _valid_ipc(subclasses):
    scheme = ipc_scheme()
    return [s for s in subclasses.split("|") if s in scheme][:3]


def _pick_title_rows(today):
    """About 36 patents spread over the IPC sections and the three kinds of publication."""
    rows = _rows("cn_patents_title_ipc.csv")
    wanted = {("A", "B"): 2, ("A", "U"): 2, ("A", "A"): 1, ("B", "B"): 2, ("B", "U"): 3, ("B", "A"): 1,
              ("C", "B"): 2, ("C", "A"): 2, ("C", "U"): 1, ("D", "U"): 1, ("D", "B"): 1, ("E", "U"): 2,
              ("E", "B"): 1, ("F", "U"): 2, ("F", "B"): 1, ("G", "B"): 3, ("G", "A"): 3, ("G", "U"): 1,
              ("H", "B"): 3, ("H", "A"): 2, ("H", "U"): 2}
    picked = []
    for row in rows:
        key = (row["ipc_sections"][:1], row["kind_code"])
        if wanted.get(key, 0) <= 0 or not _valid_ipc(row["ipc_subclasses"]) or len(row["title_zh"]) > 60:
            continue
        table = _UTILITY_PUB_YEAR if row["kind_code"] == "U" else _INVENTION_PUB_YEAR
        pub_year = _pub_year(row["publication_number"], table)
        if pub_year is None or pub_year > today.year:
            continue
        if row["kind_code"] == "U" and pub_year - 1 <= today.year - 10:
            continue  # a utility model that old has run out its 10 years
        wanted[key] -= 1
        picked.append((row, pub_year))
    return picked


def _patent_from_title_row(row, pub_year, today, serial):
    kind = row["kind_code"]
    type_digit = "2" if kind == "U" else "1"
    filing_year = min(pub_year - 1, today.year)
    filing = date(filing_year, 1 + _h(row["publication_number"], 12), 1 + _h(row["publication_number"] + "d", 28))
    grant = None
    if kind == "B":
        grant = min(date(pub_year, 1 + _h(row["publication_number"] + "g", 12), 15) + timedelta(days=700),
                    today - timedelta(days=30))
    elif kind == "U":
        grant = min(filing + timedelta(days=200 + _h(row["publication_number"], 150)), today - timedelta(days=10))
    return {"application_number": _application_number(filing_year, type_digit, serial),
            "title": row["title_zh"], "ipc_codes": _valid_ipc(row["ipc_subclasses"]),
            "filing_date": filing.isoformat(), "grant_date": grant.isoformat() if grant else None,
            "claims_count": (1 + _h(row["title_zh"], 15)) if kind != "A" else 8 + _h(row["title_zh"], 12),
            "legal_status": "pending" if kind == "A" else "granted",
            "annuity_paid_until": (_annuity_paid_until(filing, today).isoformat() if kind != "A" else None)}


_TYPE_ZH = {"1": "发明专利", "2": "实用新型专利", "3": "外观设计专利"}


def _description(title, abstract=None, keywords_en=None, extra=None, patent=None):
    """A listing's text as sellers write it: what the right covers (the real abstract where the reference data has
    one, else its technical field from the IPC scheme and the patent's particulars), then the terms of the deal.
    Never the title again: the page shows it above. ``title`` stays for callers; the text does not repeat it."""
    from .classifications import ipc_label

    parts = []
    if abstract:
        parts += ["### 摘要", abstract, ""]
    if patent is not None:
        codes = patent.get("ipc_codes") or []
        if codes and not abstract:
            parts += ["### 技术领域", *(f"- {ipc_label(code)}" for code in codes[:2]), ""]
        number = patent.get("application_number", "")
        kind = _TYPE_ZH.get(number[4:5], "专利")
        facts = [f"- {kind}，申请号 {number}，申请日 {patent.get('filing_date')}"]
        if patent.get("legal_status") == "granted":
            facts.append(f"- 已授权（授权公告日 {patent.get('grant_date')}），权利要求 {patent.get('claims_count')} 项，"
                         + (f"年费已缴至 {patent['annuity_paid_until']}" if patent.get("annuity_paid_until") else "年费按期缴纳"))
        else:
            facts.append(f"- 实质审查中，权利要求 {patent.get('claims_count')} 项；可转让专利申请权，授权前价格按申请权计")
        parts += ["### 专利概况", *facts, ""]
    parts += ["### 交易说明", "- 权利人已确认权属清晰，可配合办理国家知识产权局著录项目变更手续",
              "- 支持技术交底与样品演示，价格可按交易方式协商"]
    if extra:
        parts.append(f"- {extra}")
    if keywords_en:
        parts += ["", f"*Keywords (EN):* {keywords_en}"]
    return "\n".join(parts)


def _annuity_paid_until(filing, today):
    """Granted demo patents have paid this year's annuity: it runs to the next anniversary of the filing date."""
    for year in (today.year, today.year + 1):
        try:
            due = filing.replace(year=year)
        except ValueError:  # 29 February
            due = date(year, 2, 28)
        if due >= today:
            return due
    return None


def _price_terms(index, now, base):
    """Spread the price modes: fixed, negotiable (with and without a price), a few live auctions."""
    mode = ("fixed", "negotiable", "fixed", "negotiable", "auction", "fixed", "negotiable", "fixed", "negotiable",
            "fixed")[index % 10]
    price = base
    terms = {"price_mode": mode}
    if mode == "fixed":
        terms["price"] = price
    elif mode == "negotiable":
        terms["price"] = price if index % 2 else None
    else:
        days = (2, 3, 4, 6, 1)[(index // 10) % 5]
        ends = now + timedelta(days=days, hours=_h(str(index), 10))
        terms["auction"] = {"start_price": price // 2, "reserve_price": price, "min_increment": max(price // 50, 1000_00),
                            "ends_at": ends.replace(microsecond=0)}
    return terms


def _ensure_accounts():
    orgs, users = {}, {}
    for key, name, region, verified, body, email, person in ORGANISATIONS:
        user = db.session.scalar(select(User).where(func.lower(User.email) == email))
        if user is None:
            org = db.session.scalar(select(Organization).where(Organization.uscc == _uscc(body)))
            if org is None:
                user = register_user(email, PASSWORD, person, ["seller", "buyer"] if key == "xinghe" else ["seller"],
                                     {"name": name, "uscc": _uscc(body), "region": region})
            else:  # someone registered this organisation already: the demo seller joins it
                user = register_user(email, PASSWORD, person, ["buyer"])
                user.organization = org
                user.roles = ["seller", "buyer"] if key == "xinghe" else ["seller"]
            user.organization.verified = verified
            if verified:
                user.organization.verified_at = utcnow()
        orgs[key], users[key] = user.organization, user
    buyer = db.session.scalar(select(User).where(func.lower(User.email) == BUYER_EMAIL))
    if buyer is None:
        name, region, body = BUYER_ORG
        org = db.session.scalar(select(Organization).where(Organization.uscc == _uscc(body)))
        buyer = register_user(BUYER_EMAIL, PASSWORD, "王采购", ["buyer"],
                              None if org else {"name": name, "uscc": _uscc(body), "region": region})
        if org is not None:
            buyer.organization = org
        buyer.organization.verified = True
    operator = db.session.scalar(select(User).where(func.lower(User.email) == OPERATOR_EMAIL))
    if operator is None:
        operator = register_user(OPERATOR_EMAIL, PASSWORD, "平台审核员", ["operator"], None, allow_operator=True)
    db.session.flush()
    return orgs, users, buyer, operator


def _exists(org, number):
    query = (select(Right.id).join(ListingRight, ListingRight.right_id == Right.id)
             .join(Listing, ListingRight.listing_id == Listing.id)
             .where(Listing.organization_id == org.id, Right.number == number))
    return db.session.scalar(query.limit(1)) is not None


def _catalogue(today, now):
    """Yield (org key, API input, status, grade, note) for every demo listing, deterministically."""
    index = 0
    serial = 601000
    org_keys = [o[0] for o in ORGANISATIONS]

    # 1. Patents from the title/IPC table.
    for row, pub_year in _pick_title_rows(today):
        serial += 7 + _h(row["publication_number"], 90)
        patent = _patent_from_title_row(row, pub_year, today, serial)
        org = org_keys[index % 4] if row["kind_code"] != "U" else ("shunde", "songhu", "xinghe")[index % 3]
        deal_types = [["assignment"], ["assignment", "non_exclusive_license"], ["exclusive_license", "sole_license"],
                      ["assignment", "exclusive_license", "non_exclusive_license"]][index % 4]
        if index == 3:
            patent["pledged"] = True
            deal_types = ["non_exclusive_license"]  # a pledged patent licensed, not assigned
        if index == 6:
            # An exclusive licence in force: the patent can still be assigned (the licence survives and
            # the buyer acknowledges it before paying), but no other licence can be offered.
            patent["exclusive_license_until"] = (today + timedelta(days=500)).isoformat()
            deal_types = ["assignment"]
        base = (3 + _h(row["title_zh"], 60)) * 10_000_00 if row["kind_code"] != "U" else (1 + _h(row["title_zh"], 12)) * 10_000_00
        data = {"kind": "patent", "title": row["title_zh"], "deal_types": deal_types,
                "description": _description(row["title_zh"], extra="可提供专利证书、缴费凭证复印件", patent=patent),
                "rights": [{"patent": patent}], **_price_terms(index, now, base)}
        if deal_types == ["assignment", "non_exclusive_license"] and data.get("price"):
            # offered for both at their own prices (issue 17): a non-exclusive licence at about a fifth
            data["deal_prices"] = {"non_exclusive_license": max(data["price"] // 5 // 1000_00 * 1000_00, 1000_00)}
        yield org, data, index
        index += 1

    # 2. Inventions with abstracts (G06F), two of them bundled as a portfolio.
    abstracts = _rows("cn_patents_abstract_sample.csv")[:12]
    portfolio = []
    for n, row in enumerate(abstracts):
        serial += 11 + n
        pub_year = _pub_year(row["publication_number"], _INVENTION_PUB_YEAR) or today.year
        filing_year = min(pub_year - 1, today.year)
        filing = date(filing_year, 1 + _h(row["title_zh"], 12), 1 + _h(row["title_zh"] + "d", 28))
        codes = []
        for code in row["cpc_codes"].split("|"):
            try:
                codes.append(normalize_ipc(code))
            except InvalidIdentifier:
                continue
        patent = {"application_number": _application_number(filing_year, "1", serial), "title": row["title_zh"],
                  "abstract": row["abstract_zh"], "ipc_codes": codes[:3], "filing_date": filing.isoformat(),
                  "legal_status": "pending", "claims_count": 8 + _h(row["title_zh"], 10)}
        if n >= 9:
            portfolio.append(patent)
            continue
        base = (10 + _h(row["title_zh"], 80)) * 10_000_00
        data = {"kind": "patent", "title": row["title_zh"], "deal_types": ["assignment", "non_exclusive_license"],
                "description": _description(row["title_zh"], row["abstract_zh"], row["keywords_en"], patent=patent),
                "rights": [{"patent": patent}], **_price_terms(index, now, base)}
        yield "lingnan", data, index
        index += 1
    if portfolio:
        data = {"kind": "patent", "title": "软件与数据处理发明专利组合（3 项，整体转让）",
                "deal_types": ["assignment"], "price_mode": "fixed", "price": 180_0000_00,
                "description": "研究院软件方向的三项发明专利申请，整体转让，可配合技术交底。\n\n"
                               + "\n".join(f"- {p['title']}" for p in portfolio),
                "rights": [{"patent": p} for p in portfolio]}
        yield "lingnan", data, index
        index += 1

    # 3. Designs (Locarno), filed both before and after 2021-06-01 (10 vs 15 years).
    for n, (title, locarno, english, org) in enumerate(DESIGNS):
        serial += 13 + n
        year = today.year - (1 + n % 6)
        filing = date(year, 1 + (n * 5) % 12, 3 + n)
        patent = {"application_number": _application_number(year, "3", serial), "title": title,
                  "locarno_class": locarno, "filing_date": filing.isoformat(),
                  "grant_date": min(filing + timedelta(days=150), today - timedelta(days=5)).isoformat(),
                  "legal_status": "granted", "annuity_paid_until": _annuity_paid_until(filing, today).isoformat()}
        base = (2 + n * 3) * 10_000_00
        data = {"kind": "patent", "title": f"{title} 外观设计专利 | Design patent: {english}",
                "deal_types": ["assignment", "non_exclusive_license"],
                "description": _description(title, extra=f"Design patent for a {english}; drawings available on request.",
                                            patent=patent),
                "rights": [{"patent": patent}], **_price_terms(index, now, base)}
        yield org, data, index
        index += 1

    # 4. Trademarks across many Nice classes, with real similar groups and goods.
    for n, (mark, classes, org, deal_types, english) in enumerate(TRADEMARKS):
        groups, goods = [], []
        for c in classes:
            class_groups = groups_of_class(c)
            pick = class_groups[(n + c) % min(len(class_groups), 4)]
            groups.append(pick.code)
            goods += similar_items().get(pick.code, [])[:3]
        if mark.startswith("星河"):
            # 星河 and 星河智联 share group 0901: the similar-marks warning shows on both (商标法第四十二条)
            groups[0] = "0901"
            goods = similar_items()["0901"][:3] + goods[3:]
        reg = add_years(today, -(1 + n % 8)) - timedelta(days=30 * (n % 5))
        trademark = {"registration_number": str(10_000_000 + 2_345_671 * (n + 3) % 60_000_000),
                     "mark_text": mark, "nice_classes": classes, "similar_groups": groups, "goods": goods,
                     "registration_date": reg.isoformat(), "status": "registered", "use_evidence": n % 3 != 0}
        base = (5 + _h(mark, 40)) * 10_000_00
        class_text = "、".join(str(c) for c in classes)
        title = f"“{mark}”商标（第{class_text}类）"
        if english:
            title += f" | {english}"
        data = {"kind": "trademark", "title": title, "deal_types": deal_types,
                "description": _description(title, extra="商标注册证、续展证明齐全，可提供使用证据"),
                "rights": [{"trademark": trademark}], **_price_terms(index, now, base)}
        yield org, data, index
        index += 1


def _attach_demo_consent(user, listing):
    """The pledgee's written consent for a pledged demo patent (a one-page PDF), through the upload checks."""
    pdf = b"%PDF-1.4\n% demo: pledgee's written consent to license the pledged patent\n%%EOF\n"
    service.attach_pledge_consent(user, listing.id, FileStorage(io.BytesIO(pdf), filename="质权人同意书.pdf",
                                                                content_type="application/pdf"))


def _finish(listing, index, now, keep_draft=False):
    """Move a demo listing along the lifecycle table (``lifecycle.transition``; no notifications for demo rows)."""
    if keep_draft:
        return
    transition(listing, "submit")
    if index % 17 == 5:
        listing.submitted_at = now - timedelta(hours=index)
        return
    if index % 23 == 9:
        transition(listing, "reject")
        listing.submitted_at = now - timedelta(days=2)
        listing.rejection_reason = "请补充专利证书扫描件，并说明是否存在在先许可。"
        return
    transition(listing, "approve")
    listing.submitted_at = now - timedelta(days=1 + index % 30, hours=2)
    listing.published_at = now - timedelta(days=index % 30, hours=index % 24)
    if listing.auction is not None:
        listing.auction.starts_at = listing.published_at


def _grade(listing, index, operator, now):
    """Assess a published demo listing through the grades area, as an operator would.

    Objective indicators take the system's proposal; those needing judgement get a
    deterministic score (high for every eighth listing, so the featured row has A grades).
    """
    from . import grading

    strong = index % 8 == 0
    scores = {}
    for item in grading.propose(listing, local(now).date()):
        if item["score"] is None:
            scores[item["key"]] = 9 + _h(item["key"] + listing.title, 2) if strong else 5 + _h(item["key"] + listing.title, 4)
        else:
            scores[item["key"]] = min(10, item["score"] + (2 if strong else 0))
    rationale = ("演示数据：权利稳定、保护期较长、技术与市场前景良好，建议重点推荐。" if strong
                 else "演示数据：权利状态正常，技术方案完整，市场价值有待买方进一步评估。")
    grading.assess(listing.id, operator, scores, rationale, now=now)


def seed(progress=None):
    """Load the demo catalogue (idempotent). Returns the number of listings added; commits.

    The tour's listings below, then the volume of ``demo_catalogue`` (``progress(done, total)`` follows it).
    """
    from search.outbox import deferred

    with deferred():  # index once at the end, not after every commit
        return _seed(progress)


def _seed(progress):
    now = utcnow()
    today = local(now).date()
    orgs, users, _buyer, operator = _ensure_accounts()
    added = drafts = 0
    for org_key, data, index in _catalogue(today, now):
        first = data["rights"][0]
        number_raw = first.get("patent", first.get("trademark"))
        number = number_raw.get("application_number") or number_raw.get("registration_number")
        if _exists(orgs[org_key], number):
            continue
        with db.session.begin_nested():
            listing, _warnings = service.create_listing(users[org_key], data, now=now)
            if any(r.pledged for r in listing.rights):
                _attach_demo_consent(users[org_key], listing)
            keep_draft = org_key == "xinghe" and drafts < 2 and index % 3 == 1  # the demo seller's own drafts
            drafts += keep_draft
            _finish(listing, index, now, keep_draft)
            if listing.status == "published" and index % 4 == 0:
                db.session.flush()
                _grade(listing, index, operator, now)
        added += 1
    volume = current_app.config.get("DEMO_CATALOGUE_VOLUME", True)
    if volume:  # the test suite seeds only the tour (DEMO_CATALOGUE_VOLUME=0 in the environment does too)
        from .demo_catalogue import seed as seed_volume

        added += seed_volume(now, today, operator, progress)[0]
    db.session.commit()
    return added


def seed_if_empty():
    """Seed only a database without any listing (first start with DEMO_DATA=1)."""
    if db.session.scalar(select(func.count()).select_from(Listing)):
        return 0
    return seed()
