"""Search benchmark: the API under gunicorn against SQLite FTS5 on the same corpus, in the same run.

    python3 bench/search_bench.py --listings 10000

1. Generates a seeded synthetic zh/en corpus of patents (real CNIPA titles and IPC
   subclasses from listings/data/cn_patents_title_ipc.csv, IPC headings as descriptions,
   some English) and trademarks (Nice classes, similar-group items as goods).
2. Loads it through the project's own bulk path, ``listings.importer.import_rows``
   (the same validation as the API; one savepoint per row), and prints the throughput.
   The importer creates drafts; publishing them (and giving some of them a grade) is
   then done with bulk SQL updates, stated as such, because the review step is one
   operator decision per listing and is not what is being measured.
3. Builds the Whoosh index with the project's ``search reindex`` code path, and an FTS5
   table (jieba ``cut_for_search`` tokens, space separated; bm25 with the title weighted
   3) plus an attribute table for filters, sorting and facets.
4. Starts the app under gunicorn and runs a fixed, seeded mix of distinct queries
   (single words, two words, phrases, filtered, sorted, facet drill-downs, numbers,
   English), each measured ONCE, after a warm-up on other queries, over HTTP; the same
   queries run against FTS5 (total count, a page of 20 in the same order, and the same
   five facet counts, since the API always returns them). Prints median and p95 for both
   and the ratio; writes everything to ``<workdir>/results.json``.

No result is cached between the measured queries on either side: the API keeps its index searcher,
per-segment columns and its bounded cache of common terms' decoded postings (``executor.PostingsCache``,
as deployed), FTS5 keeps its open connection and SQLite page cache.
"""
import argparse
import csv
import http.client
import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.corpus import bulk_load, draw_publication, publication_rng  # noqa: E402 - needs ROOT on the path

DATA = ROOT / "listings" / "data"
KINDS = ("patent", "trademark")
GRADES = ("A", "B", "C", "D")
DEAL_TYPES = ("assignment", "exclusive_license", "sole_license", "non_exclusive_license")
PRICE_MODES = ("fixed", "negotiable", "auction")
SORT_KEYS = ("price_asc", "price_desc", "newest", "grade")
ENGLISH_WORDS = ("battery", "lithium", "sensor", "imaging", "vehicle", "semiconductor", "antenna", "polymer",
                 "catalyst", "robot", "camera", "display", "engine", "valve", "software", "network", "medical",
                 "coating", "laser", "packaging")


# --- corpus -------------------------------------------------------------------------

def _read(name):
    with (DATA / name).open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def check_char(digits):
    weights = (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5)
    r = sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 11
    return "X" if r == 10 else str(r)


def generate_rows(n, seed):
    """``n`` importer rows (CSV-shaped dicts), deterministic for a seed."""
    rng = random.Random(seed)
    patents = _read("cn_patents_title_ipc.csv")
    abstracts = _read("cn_patents_abstract_sample.csv")
    ipc = {r["code"]: r for r in _read("ipc_scheme_subclass.csv")}
    nice = _read("tm_nice_classes.csv")
    items = _read("tm_similar_items_2018.csv")
    items_by_class = {}
    for item in items:
        if item["item_code"] != "待定":
            items_by_class.setdefault(int(item["class_code"]), []).append(item)
    syllables = "星河云海蓝天金穗青禾华信智达瑞丰恒通宏图卓越鼎盛朗新锐光启明德润安康乐美嘉源泰和"
    regions = ("guangzhou", "shenzhen", "zhuhai", "foshan", "dongguan", "zhongshan", "huizhou", "jiangmen",
               "shantou", "zhaoqing", "other")
    rows = []
    used_numbers = set()
    for i in range(n):
        is_patent = rng.random() < 0.8
        mode = rng.choices(PRICE_MODES, weights=(70, 22, 8))[0]
        row = {"deal_types": "|".join(rng.sample(DEAL_TYPES, rng.choice((1, 1, 2, 3)))), "price_mode": mode,
               "region": rng.choice(regions)}
        price = rng.choice((2, 5, 8, 10, 20, 30, 50, 80, 100, 150, 300, 500, 800)) * 10_000 + rng.randrange(0, 10_000)
        if mode == "fixed" or (mode == "negotiable" and rng.random() < 0.5):
            row["price_yuan"] = str(price)
        if mode == "auction":
            row.update({"auction_start_yuan": str(price), "auction_increment_yuan": "1000",
                        "auction_ends_at": (datetime.now() + timedelta(days=rng.randint(3, 60))).strftime(
                            "%Y-%m-%dT%H:%M")})
        if is_patent:
            src = patents[i % len(patents)] if i < len(patents) else rng.choice(patents)
            ptype = "2" if src["kind_code"] == "U" else "1"
            year = rng.randint(2018, 2024) if ptype == "2" else rng.randint(2008, 2024)
            while True:
                digits = f"{year}{ptype}{rng.randrange(10**7):07d}"
                if digits not in used_numbers:
                    used_numbers.add(digits)
                    break
            filing = date(year, rng.randint(1, 12), rng.randint(1, 28))
            subclasses = [s for s in src["ipc_subclasses"].split("|") if s]
            titles_zh = [ipc[s]["title_zh"].split("（")[0][:60] for s in subclasses if s in ipc and ipc[s]["title_zh"]]
            titles_en = [ipc[s]["title_en"].split(";")[0].lower() for s in subclasses
                         if s in ipc and ipc[s]["title_en"]]
            description = "本专利属于" + "、".join(titles_zh or ["相关"]) + "技术领域。"
            if rng.random() < 0.15:
                description += " Field: " + "; ".join(titles_en) + ". " + " ".join(rng.sample(ENGLISH_WORDS, 2)) + "."
            if rng.random() < 0.05:
                description += rng.choice(abstracts)["abstract_zh"][:200]
            row.update({
                "kind": "patent", "title": src["title_zh"][:200], "description": description,
                "application_number": f"{digits}.{check_char(digits)}", "patent_title": src["title_zh"][:300],
                "ipc_codes": "|".join(subclasses), "filing_date": filing.isoformat(),
                "grant_date": (filing + timedelta(days=rng.randint(300, 900))).isoformat()
                if filing.year < 2024 else "",
                "claims_count": str(rng.randint(1, 20)),
                "legal_status": "granted" if filing.year < 2024 else "pending",
            })
        else:
            classes = sorted(rng.sample(range(1, 46), rng.choice((1, 1, 2, 3))))
            mark = "".join(rng.sample(syllables, 2))
            if rng.random() < 0.2:
                mark += " " + rng.choice(ENGLISH_WORDS).upper()
            goods = []
            for cls in classes:
                pool = items_by_class.get(cls) or []
                goods += [it["name_zh"] for it in rng.sample(pool, min(len(pool), rng.randint(2, 6)))]
            groups = sorted({it["group_code"] for cls in classes for it in (items_by_class.get(cls) or [])[:1]})
            while True:
                number = str(rng.randrange(10**7, 10**8))
                if number not in used_numbers:
                    used_numbers.add(number)
                    break
            row.update({
                "kind": "trademark", "title": "", "mark_text": mark,
                "description": "核定使用商品/服务：" + "、".join(nice[c - 1]["heading_zh"][:30] for c in classes),
                "registration_number": number, "nice_classes": "|".join(map(str, classes)),
                "similar_groups": "|".join(groups), "goods": "|".join(goods),
                "registration_date": date(rng.randint(2017, 2025), rng.randint(1, 12), rng.randint(1, 28)).isoformat(),
                "tm_status": "registered",
            })
        rows.append(row)
    return rows


# --- loading --------------------------------------------------------------------------

def _fast_sqlite_commits():
    """PRAGMA synchronous=NORMAL for the loader's connections (WAL stays crash-safe; commits skip fsync).

    pysqlite turns each importer savepoint into its own transaction, so with the default FULL every row
    would wait for an fsync; that measures the disk, not the import path.
    """
    import sqlite3 as _sqlite3

    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    @event.listens_for(Engine, "connect")
    def _pragma(dbapi_connection, record):
        if isinstance(dbapi_connection, _sqlite3.Connection):
            dbapi_connection.execute("PRAGMA synchronous=NORMAL")


def make_app(instance, database_url, sync_on_commit=False):
    from marketplace import create_app

    if database_url.startswith("sqlite"):
        _fast_sqlite_commits()

    return create_app({"INSTANCE_PATH": str(instance), "SQLALCHEMY_DATABASE_URI": database_url,
                       "AUTO_MIGRATE": False, "DEMO_DATA": False, "SEARCH_SYNC_ON_COMMIT": sync_on_commit,
                       "SECRET_KEY": "bench"})


def _seller(k, regions):
    """The k-th benchmark seller, with an organisation of its own (a valid USCC)."""
    from marketplace.kernel.accounts import register_user
    from marketplace.kernel.uscc import uscc_check_char

    body = "91440300" + f"{k + 1:09d}"
    return register_user(f"bench-seller-{k}@example.com", "correct-horse-battery", f"基准卖家{k}", ["seller"],
                         {"name": f"基准测试科技有限公司{k}", "uscc": body + uscc_check_char(body),
                          "region": regions[k % len(regions)]})


def load_corpus(app, rows, seed, chunk=200):
    """Import through ``listings.importer.import_rows`` (one seller per chunk, one commit per chunk),
    then publish and grade by bulk SQL."""
    from sqlalchemy import text

    from listings.importer import import_rows
    from marketplace.kernel.extensions import db

    report = {}
    with app.app_context():
        db.create_all()
        started = time.perf_counter()
        created, failed, errors = 0, 0, []
        for start in range(0, len(rows), chunk):
            # Many sellers of ~200 listings each, as on a real marketplace (an importer row checks the
            # seller's own other marks, so one seller with everything would measure that instead).
            seller = _seller(start // chunk, ("shenzhen", "guangzhou", "dongguan", "foshan", "zhuhai"))
            result = import_rows(rows[start:start + chunk], seller, first_row_number=start + 2)
            db.session.commit()
            created += result["created"]
            failed += result["failed_rows"]
            errors += result["errors"][:3]
            done = start + len(rows[start:start + chunk])
            if done % 10000 == 0 or done == len(rows):
                rate = done / (time.perf_counter() - started)
                print(f"  imported {done}/{len(rows)} rows ({rate:.0f} rows/s)", flush=True)
        elapsed = time.perf_counter() - started
        report["import"] = {"rows": len(rows), "created": created, "failed_rows": failed, "seconds": elapsed,
                            "rows_per_second": len(rows) / elapsed, "first_errors": errors[:5]}
        print(f"import_rows: {created} drafts from {len(rows)} rows in {elapsed:.1f}s "
              f"= {len(rows) / elapsed:.0f} rows/s ({failed} rows refused)", flush=True)
        if errors:
            print("  first refusals:", errors[:3], flush=True)

        # Publish (and grade some) with bulk SQL: the review step is one operator decision per listing.
        started = time.perf_counter()
        rng = publication_rng(seed)
        ids = [r[0] for r in db.session.execute(text("SELECT id FROM listings ORDER BY id"))]
        now = datetime.utcnow().replace(microsecond=0)
        updates = []
        for listing_id in ids:
            published_at, grade, score = draw_publication(rng, now)  # the same draws as bench/corpus.py's
            updates.append({"id": listing_id, "p": published_at, "g": grade, "s": score})
        db.session.execute(text("UPDATE listings SET status='published', published_at=:p, grade=:g, grade_score=:s "
                                "WHERE id=:id"), updates)
        db.session.commit()
        elapsed = time.perf_counter() - started
        report["publish"] = {"listings": len(ids), "seconds": elapsed}
        print(f"published and graded {len(ids)} listings by bulk SQL in {elapsed:.1f}s", flush=True)
    return report


def build_index(app):
    """``search.outbox.reindex`` (``flask search reindex``), with progress: documents added, then Whoosh's commit
    (sorting the postings and writing the segment), which at 1M is a long step of its own."""
    from search.outbox import published_count, reindex

    with app.app_context():
        total = published_count()
        step = max(10_000, total // 20)
        started = time.perf_counter()
        added = {"n": 0, "seconds": None}

        def progress(k):
            added["n"] += k
            n = added["n"]
            if n % step == 0 or n == total:
                elapsed = time.perf_counter() - started
                print(f"  reindex: {n}/{total} documents added in {elapsed:.0f}s ({n / elapsed:.0f}/s), "
                      f"load {os.getloadavg()[0]:.1f}", flush=True)
            if n == total:
                added["seconds"] = time.perf_counter() - started
                print("  reindex: every document added; Whoosh's commit (sort and write the postings) follows",
                      flush=True)

        count = reindex(timeout=600, progress=progress)
        elapsed = time.perf_counter() - started
    print(f"search reindex: {count} listings in {elapsed:.1f}s = {count / elapsed:.0f} listings/s "
          f"(adding {added['seconds'] or 0:.0f}s, commit {elapsed - (added['seconds'] or 0):.0f}s)", flush=True)
    return {"listings": count, "seconds": elapsed, "per_second": count / elapsed, "adding_seconds": added["seconds"]}


# --- FTS5 ---------------------------------------------------------------------------------

def _fts_tokens(text):
    import jieba

    from search.analysis import normalise_text

    text = normalise_text(text).lower()
    return " ".join(t for t in jieba.cut_for_search(text, HMM=False) if t.strip() and t.isalnum())


def build_fts(app, path):
    """The FTS5 side: jieba search-mode tokens, plus an attribute table for filters, sort and facets."""
    from sqlalchemy import select
    from sqlalchemy.orm import selectinload

    from listings.models import Listing, with_rights
    from marketplace.kernel.extensions import db
    from search.index import listing_price

    if path.exists():
        path.unlink()
    con = sqlite3.connect(path)
    # porter on top of unicode61: English words stemmed as on the Whoosh side; CJK tokens pass through.
    con.execute("CREATE VIRTUAL TABLE fts USING fts5(title, body, numbers, tokenize='porter unicode61')")
    con.execute("""CREATE TABLE attrs (id INTEGER PRIMARY KEY, kind TEXT, grade TEXT, grade_rank INTEGER,
                   price INTEGER, published INTEGER, region TEXT, price_mode TEXT, patent_type TEXT,
                   deal_mask INTEGER, ipc_mask INTEGER, nice_mask INTEGER)""")
    con.execute("CREATE TABLE ipc (id INTEGER, code TEXT)")
    started = time.perf_counter()
    with app.app_context():
        last = done = 0
        while True:
            rows = db.session.execute(
                select(Listing).where(Listing.status == "published", Listing.id > last).order_by(Listing.id)
                .limit(2000).options(with_rights(), selectinload(Listing.auction))).scalars().all()
            if not rows:
                break
            last = rows[-1].id
            fts, attrs, ipcs = [], [], []
            for listing in rows:
                body = [listing.description or ""]
                numbers = []
                ipc_mask = nice_mask = 0
                ptype = None
                for right in listing.rights:
                    if right.title != listing.title:
                        body.append(right.title)
                    body += [right.abstract or ""] + list(right.goods or [])
                    key = right.number.replace(".", "").lower()
                    numbers += [key] + ([key[:-1]] if right.kind == "patent" else [])
                    for code in right.ipc_codes or []:
                        compact = code.replace(" ", "").upper()
                        ipc_mask |= 1 << "ABCDEFGH".index(compact[0])
                        ipcs += [(listing.id, compact[:n].lower()) for n in (1, 3, 4) if len(compact) >= n]
                    for cls in right.nice_classes or []:
                        nice_mask |= 1 << (int(cls) - 1)
                    ptype = right.patent_type or ptype
                deal_mask = sum(1 << DEAL_TYPES.index(d) for d in listing.deal_types)
                price = listing_price(listing)
                fts.append((listing.id, _fts_tokens(listing.title), _fts_tokens("\n".join(body)), " ".join(numbers)))
                attrs.append((listing.id, listing.kind, listing.grade, GRADES.index(listing.grade) if listing.grade
                              else 9, price, int(listing.published_at.timestamp()), listing.region,
                              listing.price_mode, ptype, deal_mask, ipc_mask, nice_mask))
            con.executemany("INSERT INTO fts(rowid, title, body, numbers) VALUES (?,?,?,?)", fts)
            con.executemany("INSERT INTO attrs VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", attrs)
            con.executemany("INSERT INTO ipc VALUES (?,?)", ipcs)
            done += len(rows)
            if done % 100_000 < len(rows):
                print(f"  FTS5: {done} listings in {time.perf_counter() - started:.0f}s", flush=True)
    con.execute("CREATE INDEX ipc_code ON ipc(code, id)")
    for column in ("kind", "grade", "price", "published", "region"):
        con.execute(f"CREATE INDEX attrs_{column} ON attrs({column})")
    con.commit()
    con.execute("INSERT INTO fts(fts) VALUES('optimize')")
    con.commit()
    elapsed = time.perf_counter() - started
    print(f"FTS5 build: {elapsed:.1f}s", flush=True)
    return con, {"seconds": elapsed}


def _fts_match(q):
    """The FTS5 MATCH expression for our query syntax (same parser: words ANDed, phrases, numbers)."""
    from search.service import parse_query

    parts = []
    for clause in parse_query(q):
        if clause.number:
            parts.append('numbers:"' + clause.words[0] + '"')
        elif len(clause.words) > 1:
            parts.append('{title body}:"' + " ".join(clause.words) + '"')
        else:
            parts.append('{title body}:"' + clause.words[0] + '"')
    return " AND ".join(parts)


_RANK = "bm25(fts, 3.0, 1.0, 10.0), "
_SORT_SQL = {
    "relevance": "{rank}a.published DESC, a.id DESC",
    "newest": "a.published DESC, a.id DESC",
    "price_asc": "a.price IS NULL, a.price ASC, a.published DESC, a.id DESC",
    "price_desc": "a.price IS NULL, a.price DESC, a.published DESC, a.id DESC",
    "grade": "a.grade_rank ASC, {rank}a.published DESC, a.id DESC",
}
_FACET_SQL = ", ".join(
    [f"SUM(a.kind = '{k}')" for k in KINDS] + [f"SUM(a.grade = '{g}')" for g in GRADES]
    + [f"SUM((a.deal_mask >> {i}) & 1)" for i in range(4)] + [f"SUM((a.ipc_mask >> {i}) & 1)" for i in range(8)]
    + [f"SUM((a.nice_mask >> {i}) & 1)" for i in range(45)])


def fts_search(con, params, facets=True):
    """Total, a page of ids and (``facets``) the five facets for ``params`` (the API's arguments).

    ``facets=False`` is the "raw" FTS5 column: jieba tokens, bm25, the count and the top 20 only.
    """
    q = params.get("q", "")
    match = _fts_match(q) if q.strip() else ""
    where, args = [], []
    if match:
        where.append("fts MATCH ?")
        args.append(match)
    if "kind" in params:
        where.append("a.kind = ?")
        args.append(params["kind"])
    if "grade" in params:
        grades = params["grade"].split(",")
        where.append(f"a.grade IN ({','.join('?' * len(grades))})")
        args += grades
    if "region" in params:
        where.append("a.region = ?")
        args.append(params["region"])
    if "price_mode" in params:
        where.append("a.price_mode = ?")
        args.append(params["price_mode"])
    if "deal_type" in params:
        where.append(f"(a.deal_mask >> {DEAL_TYPES.index(params['deal_type'])}) & 1")
    if "nice_class" in params:
        where.append(f"(a.nice_mask >> {int(params['nice_class']) - 1}) & 1")
    if "ipc" in params:
        where.append("a.id IN (SELECT id FROM ipc WHERE code = ?)")
        args.append(params["ipc"].replace(" ", "").lower())
    if "price_min" in params:
        where.append("a.price >= ?")
        args.append(int(params["price_min"]))
    if "price_max" in params:
        where.append("a.price <= ?")
        args.append(int(params["price_max"]))
    sql_from = "fts JOIN attrs a ON a.id = fts.rowid" if match else "attrs a"
    where_sql = (" WHERE " + " AND ".join(where)) if where else ""
    order = _SORT_SQL[params.get("sort", "relevance")].format(rank=_RANK if match else "")
    page = int(params.get("page", 1))
    ids = [r[0] for r in con.execute(f"SELECT a.id FROM {sql_from}{where_sql} ORDER BY {order} LIMIT 20 OFFSET ?",
                                     args + [(page - 1) * 20])]
    counts = f"COUNT(*), {_FACET_SQL}" if facets else "COUNT(*)"
    row = con.execute(f"SELECT {counts} FROM {sql_from}{where_sql}", args).fetchone()
    return {"total": row[0], "ids": ids}


# --- queries --------------------------------------------------------------------------------

def make_queries(app, n, seed):
    """(measured, warmup): distinct query parameter dicts, seeded; warm-up queries are not measured."""
    import jieba
    from sqlalchemy import text

    from marketplace.kernel.extensions import db
    from search.analysis import initialise

    initialise()
    rng = random.Random(seed + 7)
    with app.app_context():
        titles = [r[0] for r in db.session.execute(text(
            "SELECT title FROM listings WHERE kind='patent' ORDER BY id LIMIT 20000"))]
        numbers = [r[0] for r in db.session.execute(text(
            "SELECT number FROM rights WHERE kind='patent' ORDER BY id LIMIT 5000"))]
        marks = [r[0] for r in db.session.execute(text(
            "SELECT number FROM rights WHERE kind='trademark' ORDER BY id LIMIT 2000"))]
    df = {}
    cut_titles = []
    for title in titles:
        words = [w for w in jieba.cut(title, HMM=False) if len(w) >= 2 and w.isalnum()]
        cut_titles.append(words)
        for w in set(words):
            df[w] = df.get(w, 0) + 1
    vocab = sorted(df, key=lambda w: (-df[w], w))
    common, middle, rare = vocab[:60], vocab[60:600], vocab[600:]
    rare = rare or middle

    def word():
        bucket = rng.choices((common, middle, rare), weights=(35, 40, 25))[0]
        return rng.choice(bucket)

    def two_words():
        words = rng.choice([w for w in cut_titles if len(w) >= 3] or [["电池", "装置"]])
        a, b = sorted(rng.sample(range(len(words)), 2))
        return f"{words[a]} {words[b]}"

    def phrase():
        words = rng.choice([w for w in cut_titles if len(w) >= 3] or [["图像", "识别", "方法"]])
        start = rng.randrange(0, len(words) - 1)
        return '"' + "".join(words[start:start + rng.choice((2, 2, 3))]) + '"'

    def filters():
        options = [
            lambda: {"kind": rng.choice(KINDS)}, lambda: {"grade": rng.choice(("A", "B", "A,B", "C"))},
            lambda: {"ipc": rng.choice("ABCDEFGH")}, lambda: {"ipc": rng.choice(("G06F", "H01M", "A61K", "B65G",
                                                                                  "H04L", "G01N", "F16K"))},
            lambda: {"nice_class": str(rng.randint(1, 45))}, lambda: {"deal_type": rng.choice(DEAL_TYPES)},
            lambda: {"price_mode": rng.choice(PRICE_MODES)},
            lambda: {"price_min": str(rng.choice((10, 50, 100)) * 1_000_000),
                     "price_max": str(rng.choice((200, 500, 1000)) * 1_000_000)},
            lambda: {"region": rng.choice(("shenzhen", "guangzhou", "dongguan", "foshan"))},
        ]
        out = {}
        for make in rng.sample(options, rng.choice((1, 1, 2))):
            out.update(make())
        return out

    def number():
        raw = rng.choice(numbers)
        style = rng.randrange(4)
        if style == 0:
            return raw
        if style == 1:
            return "ZL" + raw
        if style == 2:
            return f"CN {raw[:4]} {raw[4]} {raw[5:]}"
        return rng.choice(marks)

    makers = [
        ("single_word", 60, lambda: {"q": word()}),
        ("two_words", 40, lambda: {"q": two_words()}),
        ("phrase", 30, lambda: {"q": phrase()}),
        ("filtered", 40, lambda: {"q": word(), **filters()}),
        ("sorted", 30, lambda: {"q": rng.choice((word(), two_words())), "sort": rng.choice(SORT_KEYS)}),
        ("facet_browse", 30, lambda: {**filters(), "sort": rng.choice(("relevance",) + SORT_KEYS)}),
        ("number", 10, lambda: {"q": number()}),
        ("english", 10, lambda: {"q": rng.choice(ENGLISH_WORDS) + rng.choice(("", "s", " " + word()))}),
    ]
    total_weight = sum(w for _c, w, _m in makers)
    seen = set()

    def draw(count):
        out = []
        for category, weight, make in makers:
            want = max(1, round(count * weight / total_weight))
            tries = 0
            while want and tries < want * 50:
                tries += 1
                params = make()
                key = json.dumps(params, sort_keys=True, ensure_ascii=False)
                if key in seen:
                    continue
                seen.add(key)
                out.append((category, params))
                want -= 1
        return out

    warmup = draw(60)
    measured = draw(n)
    while len(measured) < n:  # rounding per category: top up with single words
        params = {"q": word() + " " + word()}
        key = json.dumps(params, sort_keys=True, ensure_ascii=False)
        if key not in seen:
            seen.add(key)
            measured.append(("two_words", params))
    rng.shuffle(measured)
    return measured, warmup


# --- the app under gunicorn -------------------------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(instance, database_url, workers, port, log_path):
    env = dict(os.environ, INSTANCE_PATH=str(instance), DATABASE_URL=database_url, DEMO_DATA="0",
               SECRET_KEY="bench", PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "gunicorn", "-w", str(workers), "-b", f"127.0.0.1:{port}", "--timeout", "120",
           "bench.search_wsgi:app"]
    log = open(log_path, "w")  # noqa: SIM115 - lives as long as the server
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return proc
        except OSError:
            time.sleep(0.3)
        if proc.poll() is not None:
            raise SystemExit(f"gunicorn exited; see {log_path}")
    raise SystemExit(f"gunicorn did not start; see {log_path}")


def http_search(port, params):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    started = time.perf_counter()
    conn.request("GET", "/api/v1/search?" + urlencode(params))
    response = conn.getresponse()
    body = response.read()
    elapsed = time.perf_counter() - started
    conn.close()
    if response.status != 200:
        raise RuntimeError(f"{params} -> {response.status} {body[:300]!r}")
    data = json.loads(body)
    return elapsed, data


def percentile(values, p):
    values = sorted(values)
    k = (len(values) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def summarise(times):
    return {"n": len(times), "median_ms": statistics.median(times) * 1000, "p95_ms": percentile(times, 0.95) * 1000,
            "max_ms": max(times) * 1000}


def _size_mb(path):
    """Bytes on disk of a file or a folder's files, in MB."""
    path = Path(path)
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files) / 1e6


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listings", type=int, required=True, help="corpus size")
    parser.add_argument("--seed", type=int, default=20260101)
    parser.add_argument("--queries", type=int, default=250, help="measured queries (at least 200)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--workdir", type=Path, help="default: bench/out/search-<listings>")
    parser.add_argument("--reuse", action="store_true", help="reuse a corpus already loaded in --workdir")
    parser.add_argument("--reindex", action="store_true", help="with --reuse: rebuild the search index first")
    parser.add_argument("--bulk", action="store_true",
                        help="load the corpus with bench/corpus.py (Core bulk inserts, bench only) instead of "
                             "listings.importer.import_rows")
    args = parser.parse_args(argv)
    if args.queries < 200:
        parser.error("--queries must be at least 200")
    workdir = (args.workdir or ROOT / "bench" / "out" / f"search-{args.listings}").resolve()
    instance = workdir / "instance"
    database = instance / "bench.sqlite3"
    database_url = f"sqlite:///{database}"
    results = {"listings": args.listings, "seed": args.seed, "started": datetime.now().isoformat(timespec="seconds"),
               "cpu_count": os.cpu_count(), "workers": args.workers}

    if not args.reuse:
        shutil.rmtree(workdir, ignore_errors=True)
        instance.mkdir(parents=True)
        started = time.perf_counter()
        rows = generate_rows(args.listings, args.seed)
        print(f"generated {len(rows)} rows in {time.perf_counter() - started:.1f}s", flush=True)
        app = make_app(instance, database_url)
        if args.bulk:
            report = bulk_load(app, rows, args.seed)
            print(f"bulk corpus (bench/corpus.py, Core inserts, no rule book): {report['created']} published "
                  f"listings from {report['rows']} rows in {report['seconds']:.1f}s = "
                  f"{report['rows_per_second']:.0f} rows/s ({report['failed_rows']} refused)", flush=True)
            results["bulk_load"] = report
        else:
            results.update(load_corpus(app, rows, args.seed))
        del rows
        results["reindex"] = build_index(app)
    else:
        app = make_app(instance, database_url)
        if args.reindex:
            results["reindex"] = build_index(app)
    fts_con, results["fts_build"] = build_fts(app, workdir / "fts.sqlite3")
    measured, warmup = make_queries(app, args.queries, args.seed)
    print(f"{len(measured)} measured queries, {len(warmup)} warm-up queries (all distinct)", flush=True)

    port = free_port()
    server = start_gunicorn(instance, database_url, args.workers, port, workdir / "gunicorn.log")
    load_samples = [os.getloadavg()[0]]  # the 1-minute load average, every 25 measured queries
    try:
        for _category, params in warmup:  # every worker opens its searcher and loads its columns here
            http_search(port, params)
            fts_search(fts_con, params)
            fts_search(fts_con, params, facets=False)
        rows = []
        for number, (category, params) in enumerate(measured, 1):
            if number % 25 == 0:
                load_samples.append(os.getloadavg()[0])
            api_time, body = http_search(port, params)
            started = time.perf_counter()
            fts = fts_search(fts_con, params)
            fts_time = time.perf_counter() - started
            started = time.perf_counter()
            fts_search(fts_con, params, facets=False)
            raw_time = time.perf_counter() - started
            rows.append({"category": category, "params": params, "api_s": api_time, "fts_s": fts_time,
                         "raw_s": raw_time, "api_total": body["total"], "fts_total": fts["total"],
                         "partial": body.get("partial", False), "expanded": len(body.get("also_searched", []))})
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)

    results["sizes_mb"] = {"search_index": _size_mb(instance / "search_index"), "database": _size_mb(database),
                           "fts5": _size_mb(workdir / "fts.sqlite3")}
    results["load_average"] = " ".join(f"{x:.1f}" for x in os.getloadavg())
    results["load_average_1min_samples"] = [round(x, 2) for x in load_samples]
    api = summarise([r["api_s"] for r in rows])
    fts = summarise([r["fts_s"] for r in rows])
    raw = summarise([r["raw_s"] for r in rows])
    agree = sum(1 for r in rows if r["api_total"] == r["fts_total"]) / len(rows)
    expanded = sum(1 for r in rows if r["expanded"]) / len(rows)
    partial = sum(1 for r in rows if r["partial"]) / len(rows)
    results.update({"queries": rows, "api": api, "fts5": fts, "fts5_raw": raw,
                    "p95_ratio": api["p95_ms"] / fts["p95_ms"], "median_ratio": api["median_ms"] / fts["median_ms"],
                    "p95_ratio_raw": api["p95_ms"] / raw["p95_ms"], "total_agreement": agree,
                    "expanded_share": expanded, "partial_share": partial})
    by_category = {}
    for r in rows:
        by_category.setdefault(r["category"], []).append(r)
    results["by_category"] = {c: {"api": summarise([r["api_s"] for r in rs]), "fts5": summarise([r["fts_s"] for r in rs]),
                                  "fts5_raw": summarise([r["raw_s"] for r in rs])}
                              for c, rs in by_category.items()}

    print()
    print(f"corpus: {args.listings} listings; {len(rows)} distinct queries, each measured once after "
          f"{len(warmup)} warm-up queries; gunicorn -w {args.workers}; {os.cpu_count()} CPUs")
    if "import" in results:
        print(f"import (listings.importer.import_rows): {results['import']['rows_per_second']:.0f} rows/s")
    if "reindex" in results:
        print(f"search reindex: {results['reindex']['per_second']:.0f} listings/s")
    print(f"load average during the run: {results['load_average']} (1, 5, 15 min, at the end); 1-min samples "
          f"while querying: {min(load_samples):.1f}–{max(load_samples):.1f}")
    print("on disk, MB: " + ", ".join(f"{k} {v:.0f}" for k, v in results["sizes_mb"].items()))
    print(f"{'':14} {'median ms':>10} {'p95 ms':>10} {'max ms':>10}")
    print(f"{'API (HTTP)':14} {api['median_ms']:10.1f} {api['p95_ms']:10.1f} {api['max_ms']:10.1f}")
    print(f"{'FTS5 + facets':14} {fts['median_ms']:10.1f} {fts['p95_ms']:10.1f} {fts['max_ms']:10.1f}")
    print(f"{'FTS5 raw':14} {raw['median_ms']:10.1f} {raw['p95_ms']:10.1f} {raw['max_ms']:10.1f}")
    print(f"ratio API/FTS5+facets: median {results['median_ratio']:.2f}x, p95 {results['p95_ratio']:.2f}x; "
          f"API/FTS5 raw: p95 {results['p95_ratio_raw']:.2f}x")
    print(f"same total on both sides: {agree:.0%} of queries (the API also expands synonyms and translations: "
          f"{expanded:.0%} of queries; partial matches: {partial:.0%})")
    print("by category (p95 ms, API / FTS5+facets / FTS5 raw):")
    for category, stats in sorted(results["by_category"].items()):
        print(f"  {category:14} {stats['api']['p95_ms']:8.1f} / {stats['fts5']['p95_ms']:8.1f} / "
              f"{stats['fts5_raw']['p95_ms']:8.1f}  (n={stats['api']['n']})")
    (workdir / "results.json").write_text(json.dumps(results, ensure_ascii=False, indent=1, default=str))
    print(f"results: {workdir / 'results.json'}")


if __name__ == "__main__":
    main()
