"""The large part of the demo catalogue (issue 18): about a thousand listings from the real data.

``listings.demo`` seeds the hand-picked tour (accounts, 74 listings with every special case);
this adds the volume that makes search look like a real marketplace on first start: 锂电池,
电池, 机器人, 石墨烯, 无人机 … all find something.

* Patents: titles and IPC subclasses from ``data/cn_patents_title_ipc.csv`` (CNIPA publications),
  every topic the search guide mentions first (up to ``PER_TOPIC`` titles each), then an even stride
  over the rest of the table; inventions with abstracts from ``cn_patents_abstract_sample.csv``.
* Trademarks: marks made of common brand syllables, one to three Nice classes each, with real
  similar groups (类似群) and goods from the 2018 similar-goods table.
* Spread over twelve demo seller organisations in twelve Guangdong cities, the four deal types,
  the three price modes (auctions end one to six days after seeding), and grades A–D.

Every listing goes through ``service.create_listing`` (the validation of the API and the bulk
import) inside its own savepoint, and moves along ``lifecycle.transition`` like the tour's; rows
the rules refuse are skipped and counted. Application numbers are synthesised in the real format
(serials from 800000, apart from the tour's). Idempotent: a right number already present is skipped.
"""
import hashlib
from datetime import date, timedelta

from sqlalchemy import func, select

from marketplace.kernel.accounts import register_user
from marketplace.kernel.errors import DomainError
from marketplace.kernel.extensions import db
from marketplace.kernel.models import Organization, User

from . import service
from .classifications import groups_of_class, nice_classes, similar_items
from .demo import (
    _INVENTION_PUB_YEAR,
    _UTILITY_PUB_YEAR,
    PASSWORD,
    _application_number,
    _description,
    _finish,
    _grade,
    _patent_from_title_row,
    _pick_title_rows,
    _price_terms,
    _pub_year,
    _rows,
    _uscc,
    _valid_ipc,
)
from .identifiers import InvalidIdentifier, normalize_ipc
from .importer import fast_sqlite_commits as _fast_sqlite
from .models import Right

PATENTS = 760  # from the title/IPC table
TRADEMARKS = 200
PER_TOPIC = 14
COMMIT_EVERY = 100
# What people search first; each gets up to PER_TOPIC real titles before the even stride fills the rest.
TOPICS = ("锂电池", "锂离子电池", "电池", "储能", "机器人", "石墨烯", "无人机", "光伏", "太阳能", "新能源", "电动汽车",
          "充电", "区块链", "人工智能", "神经网络", "深度学习", "图像识别", "芯片", "半导体", "LED", "传感器", "5G",
          "物联网", "大数据", "云计算", "显示", "激光", "电机", "逆变器", "风力", "氢", "催化剂", "纳米", "复合材料",
          "涂料", "污水", "中药", "疫苗", "医疗", "检测", "食品", "茶", "农业", "养殖", "建筑", "混凝土", "桥梁",
          "隧道", "汽车", "轮胎", "飞行器", "船", "轴承", "齿轮", "模具", "焊接", "数控", "空调", "冰箱", "洗衣机",
          "手机", "耳机", "服装", "家具", "玩具", "包装")

# (key, name, region, admin code for the USCC, contact)
ORGANISATIONS = [
    ("scut", "华南理工大学技术转移中心（演示）", "guangzhou", "440100", "梁振华"),
    ("szu", "深圳大学知识产权运营中心（演示）", "shenzhen", "440300", "邓思远"),
    ("zhuhaiic", "珠海横琴科技创新中心（演示）", "zhuhai", "440400", "许文博"),
    ("stenergy", "汕头海岸科技有限公司（演示）", "shantou", "440500", "蔡俊杰"),
    ("fsrobot", "佛山南海智能装备研究院（演示）", "foshan", "440600", "冯子轩"),
    ("hzbattery", "惠州仲恺动力科技有限公司（演示）", "huizhou", "441300", "叶嘉欣"),
    ("dgmaterials", "东莞松山湖新材料研究院（演示）", "dongguan", "441900", "袁志诚"),
    ("zsmedical", "中山翠亨健康科技有限公司（演示）", "zhongshan", "442000", "郑雅琪"),
    ("jmagri", "江门五邑科技有限公司（演示）", "jiangmen", "440700", "李国栋"),
    ("zjmarine", "湛江南海装备有限公司（演示）", "zhanjiang", "440800", "吴海涛"),
    ("zqbuild", "肇庆端州工程科技有限公司（演示）", "zhaoqing", "441200", "罗嘉豪"),
    ("qybrands", "清远品牌管理有限公司（演示）", "qingyuan", "441800", "钟慧敏"),
]
DEAL_TYPES = [["assignment"], ["assignment", "non_exclusive_license"], ["exclusive_license", "sole_license"],
              ["assignment", "exclusive_license", "non_exclusive_license"], ["non_exclusive_license"]]
MARK_HEADS = ("星", "云", "海", "禾", "嘉", "瑞", "恒", "粤", "华", "康", "乐", "锦", "铭", "悦", "卓", "鼎", "朗", "逸",
              "青", "睿")
MARK_TAILS = ("源", "峰", "盛", "达", "途", "语", "然", "川", "阳", "澜")
MARK_LATIN = ("NOVA", "ORCHID", "PEARLY", "SUNLEAF", "BRIGHTA", "KINLON", "TIDEWAY", "MAPLIN", "CORALIS", "ZENOVA")


def _h(text, mod):
    return int(hashlib.sha256(text.encode()).hexdigest()[:12], 16) % mod


def _email(key):
    return f"ip@{key}.demo.ipmart.cn"


def _ensure_sellers():
    """The twelve demo seller organisations (verified) and their users, by e-mail; created once."""
    users = {}
    for n, (key, name, region, admin, person) in enumerate(ORGANISATIONS):
        user = db.session.scalar(select(User).where(func.lower(User.email) == _email(key)))
        if user is None:
            uscc = _uscc(f"91{admin}MA{5_100_000 + n * 7:07d}")
            org = db.session.scalar(select(Organization).where(Organization.uscc == uscc))
            user = register_user(_email(key), PASSWORD, person, ["seller"],
                                 None if org else {"name": name, "uscc": uscc, "region": region})
            if org is not None:
                user.organization = org
            user.organization.verified = True
        users[key] = user
    db.session.flush()
    return users


def _title_rows(today):
    """(row, publication year) for PATENTS titles: topics first, then an even stride; none of the tour's."""
    taken = {row["publication_number"] for row, _year in _pick_title_rows(today)}
    usable = []
    for row in _rows("cn_patents_title_ipc.csv"):
        if row["publication_number"] in taken or len(row["title_zh"]) > 60 or not _valid_ipc(row["ipc_subclasses"]):
            continue
        table = _UTILITY_PUB_YEAR if row["kind_code"] == "U" else _INVENTION_PUB_YEAR
        year = _pub_year(row["publication_number"], table)
        if year is None or year > today.year or (row["kind_code"] == "U" and year - 1 <= today.year - 10):
            continue
        usable.append((row, year))
    picked, seen = [], set()
    for topic in TOPICS:
        hits = [item for item in usable if topic in item[0]["title_zh"] and item[0]["publication_number"] not in seen]
        for item in hits[:PER_TOPIC]:
            seen.add(item[0]["publication_number"])
            picked.append(item)
    rest = [item for item in usable if item[0]["publication_number"] not in seen]
    want = max(0, PATENTS - len(picked))
    if want and rest:
        step = max(1, len(rest) // want)
        picked += rest[::step][:want]
    return picked[:PATENTS]


def _abstract_rows(today, serial):
    """Inventions with real abstracts and English keywords (the rows the tour does not use)."""
    for n, row in enumerate(_rows("cn_patents_abstract_sample.csv")[12:]):
        pub_year = _pub_year(row["publication_number"], _INVENTION_PUB_YEAR) or today.year
        filing_year = min(pub_year - 1, today.year)
        filing = date(filing_year, 1 + _h(row["title_zh"], 12), 1 + _h(row["title_zh"] + "d", 28))
        codes = []
        for code in row["cpc_codes"].split("|"):
            try:
                codes.append(normalize_ipc(code))
            except InvalidIdentifier:
                continue
        yield row, {"application_number": _application_number(filing_year, "1", serial + n * 3),
                    "title": row["title_zh"], "abstract": row["abstract_zh"], "ipc_codes": codes[:3],
                    "filing_date": filing.isoformat(), "legal_status": "pending",
                    "claims_count": 8 + _h(row["title_zh"], 10)}


def _marks():
    """(mark, classes) for TRADEMARKS marks: two-syllable Chinese marks and a few Latin ones."""
    classes = sorted(int(c) for c in nice_classes())
    out = []
    for n in range(TRADEMARKS):
        if n % 10 == 9:
            mark = MARK_LATIN[(n // 10) % len(MARK_LATIN)] + ("" if n < 100 else " PLUS")
        else:
            mark = MARK_HEADS[n % len(MARK_HEADS)] + MARK_TAILS[(n // len(MARK_HEADS)) % len(MARK_TAILS)]
        first = classes[(n * 7) % len(classes)]
        picked = [first] + [classes[(n * 7 + 11 * k) % len(classes)] for k in range(1, 1 + n % 3)]
        out.append((mark, list(dict.fromkeys(picked))))
    return out


def catalogue(today, now):
    """Yield (org key, API input, index) for every listing of this part, deterministically."""
    keys = [o[0] for o in ORGANISATIONS]
    index = 1000  # apart from the tour's indexes (the status and grade spread keys on it)
    serial = 800_000
    for row, pub_year in _title_rows(today):
        serial += 3 + _h(row["publication_number"], 40)
        patent = _patent_from_title_row(row, pub_year, today, serial)
        base = ((3 + _h(row["title_zh"], 60)) if row["kind_code"] != "U" else (1 + _h(row["title_zh"], 12))) * 10_000_00
        section = row["ipc_sections"][:1]
        org = keys[(ord(section) + index) % (len(keys) - 1)]  # every org but the brand house holds patents
        data = {"kind": "patent", "title": row["title_zh"], "deal_types": DEAL_TYPES[index % len(DEAL_TYPES)],
                "description": _description(row["title_zh"], extra="可提供专利证书、缴费凭证复印件", patent=patent),
                "rights": [{"patent": patent}], **_price_terms(index, now, base)}
        yield org, data, index
        index += 1
    for row, patent in _abstract_rows(today, serial + 50):
        base = (10 + _h(row["title_zh"], 80)) * 10_000_00
        data = {"kind": "patent", "title": row["title_zh"], "deal_types": DEAL_TYPES[index % 4],
                "description": _description(row["title_zh"], row["abstract_zh"], row["keywords_en"], patent=patent),
                "rights": [{"patent": patent}], **_price_terms(index, now, base)}
        yield keys[index % 3], data, index
        index += 1
    items, nice = similar_items(), nice_classes()
    for n, (mark, classes) in enumerate(_marks()):
        groups, goods = [], []
        for c in classes:
            class_groups = groups_of_class(c)
            pick = class_groups[(n + c) % len(class_groups)]
            groups.append(pick.code)
            goods += items.get(pick.code, [])[:3]
        registered = today - timedelta(days=400 + 97 * n % 3000)
        trademark = {"registration_number": str(30_000_000 + 7_919 * n), "mark_text": mark, "nice_classes": classes,
                     "similar_groups": groups, "goods": goods, "registration_date": registered.isoformat(),
                     "status": "registered", "use_evidence": n % 3 != 0}
        title = f"“{mark}”商标（第{'、'.join(str(c) for c in classes)}类）"
        base = (3 + _h(mark + str(n), 40)) * 10_000_00
        data = {"kind": "trademark", "title": title, "deal_types": DEAL_TYPES[n % 2],
                "description": _description(title, extra="商标注册证齐全，核定商品：" + "、".join(goods[:6]),
                                            keywords_en=", ".join(nice[c].short_en for c in classes if c in nice)),
                "rights": [{"trademark": trademark}], **_price_terms(index, now, base)}
        yield keys[n % len(keys)], data, index
        index += 1


def seed(now, today, operator, progress=None):
    """Add this part of the catalogue (idempotent). Returns (added, skipped); commits every COMMIT_EVERY rows.

    ``progress(done, total)`` is called as rows are processed (the CLI's progress bar).
    """
    users = _ensure_sellers()
    existing = set(db.session.scalars(select(Right.number)))
    with _fast_sqlite():
        return _add(users, existing, now, today, operator, progress)


def _add(users, existing, now, today, operator, progress):
    rows = list(catalogue(today, now))
    added = skipped = 0
    for done, (org_key, data, index) in enumerate(rows, 1):
        first = data["rights"][0]
        right = first.get("patent") or first.get("trademark")
        number = right.get("application_number") or right.get("registration_number")
        if number in existing:
            continue
        try:
            with db.session.begin_nested():
                listing, _warnings = service.create_listing(users[org_key], data, now=now)
                _finish(listing, index, now)
                if listing.status == "published" and index % 5 == 0:
                    db.session.flush()
                    _grade(listing, index, operator, now)
        except DomainError:
            skipped += 1  # the rules refuse it (e.g. a class combination): leave it out, as an import would
        else:
            added += 1
            existing.add(number)
        if done % COMMIT_EVERY == 0:
            db.session.commit()  # a small session flushes fast; a crash keeps what is done (seeding is idempotent)
        if progress is not None and (done % 50 == 0 or done == len(rows)):
            progress(done, len(rows))
    return added, skipped
