"""Bulk import of listings from CSV (universities and institutes with many rights). See docs/import.md.

One row is one draft listing holding one right. Each row is validated on its
own by the same ``service.create_listing`` the API uses, inside a savepoint: a
valid row becomes a draft, an invalid row is reported with its row number (the
header is row 1), the CSV column and the reason, and nothing of it is written.

``import_rows(rows, seller)`` is the reusable bulk path (the search benchmark
feeds it generated rows); it flushes but does not commit.
"""
import csv
import io
import re
from contextlib import contextmanager

from flask_babel import gettext as _
from sqlalchemy import text

from marketplace.kernel.errors import DomainError, ValidationError
from marketplace.kernel.extensions import db
from marketplace.kernel.money import parse_yuan

from . import service

COLUMNS = (
    # listing
    "kind", "title", "description", "deal_types", "price_mode", "price_yuan", "offer_floor_yuan",
    "auction_start_yuan", "auction_reserve_yuan", "auction_increment_yuan", "auction_ends_at", "region",
    "license_territory", "license_field", "license_years",
    # patent
    "application_number", "patent_type", "patent_title", "abstract", "ipc_codes", "locarno_class", "filing_date",
    "grant_date", "claims_count", "legal_status", "pledged", "exclusive_license_until", "family_countries",
    # trademark
    "registration_number", "mark_text", "nice_classes", "similar_groups", "goods", "registration_date", "tm_status",
    "use_evidence",
)
REQUIRED_COLUMNS = ("kind", "deal_types", "price_mode")
MAX_UPLOAD_ROWS = 5000
MAX_CSV_BYTES = 5 * 1024 * 1024  # one file: 5,000 rows of a long description fit in well under this
MAX_CELL_CHARS = 20_000  # one cell (= MAX_DESCRIPTION, the longest field); a longer cell is an error of its row
# The csv module's own limit (131,072 characters, process-wide) stops the reader with "field larger than
# field limit", which names no column. Raised to the file bound: any cell of a file we take is read, and
# _check_cells then names its row and column.
if csv.field_size_limit() < MAX_CSV_BYTES:
    csv.field_size_limit(MAX_CSV_BYTES)

# service field name (after rights[0].<kind>.) -> CSV column
_RIGHT_COLUMN = {"title": "patent_title", "mark_text": "mark_text", "status": "tm_status"}
_LISTING_COLUMN = {"price": "price_yuan", "offer_floor": "offer_floor_yuan", "auction": "auction_start_yuan",
                   "auction.start_price": "auction_start_yuan", "auction.reserve_price": "auction_reserve_yuan",
                   "auction.min_increment": "auction_increment_yuan", "auction.ends_at": "auction_ends_at",
                   "rights": "kind", "rights[0]": "kind", "body": "kind"}


class RowError(Exception):
    def __init__(self, column, reason):
        super().__init__(reason)
        self.column = column
        self.reason = reason


def column_for(field):
    """The CSV column a service field name refers to."""
    match = re.match(r"rights\[\d+\]\.(?:patent|trademark)\.(\w+)", field)
    if match:
        name = match.group(1)
        return _RIGHT_COLUMN.get(name, name)
    return _LISTING_COLUMN.get(field, field.split("[")[0])


def _money(row, column):
    raw = (row.get(column) or "").strip()
    if not raw:
        return None
    if not raw.endswith("万元"):
        raw = raw.removesuffix("元")  # "500元"; "50万" and "50万元" are read by parse_yuan
    try:
        return parse_yuan(raw)
    except ValueError as exc:
        raise RowError(column, _("不是有效的金额（单位：元，可写“50万”）：%(value)s", value=repr(row.get(column)))) from exc


def row_to_input(row):
    """A CSV row (dict by header) → the API input of ``POST /listings``; RowError for unreadable money."""
    get = lambda key: (row.get(key) or "").strip()  # noqa: E731
    kind = get("kind").lower()
    kind = {"专利": "patent", "商标": "trademark"}.get(kind, kind)
    data = {
        "kind": kind, "title": get("title"), "description": get("description"),
        "deal_types": get("deal_types"), "price_mode": get("price_mode").lower(),
        "price": _money(row, "price_yuan"), "offer_floor": _money(row, "offer_floor_yuan"),
        "region": get("region") or None, "license_territory": get("license_territory"),
        "license_field": get("license_field"), "license_years": get("license_years") or None,
    }
    if data["price_mode"] == "auction":
        data["auction"] = {"start_price": _money(row, "auction_start_yuan"),
                           "reserve_price": _money(row, "auction_reserve_yuan"),
                           "min_increment": _money(row, "auction_increment_yuan"),
                           "ends_at": get("auction_ends_at")}
    if kind == "patent":
        right = {"patent": {
            "application_number": get("application_number"), "patent_type": get("patent_type") or None,
            "title": get("patent_title") or get("title"), "abstract": get("abstract"),
            "ipc_codes": get("ipc_codes"), "locarno_class": get("locarno_class") or None,
            "filing_date": get("filing_date"), "grant_date": get("grant_date"),
            "claims_count": get("claims_count") or None, "legal_status": get("legal_status").lower(),
            "pledged": get("pledged"), "exclusive_license_until": get("exclusive_license_until"),
            "family_countries": get("family_countries")}}
        if not data["title"]:
            data["title"] = right["patent"]["title"]
    elif kind == "trademark":
        right = {"trademark": {
            "registration_number": get("registration_number"), "mark_text": get("mark_text"),
            "nice_classes": get("nice_classes"), "similar_groups": get("similar_groups"), "goods": get("goods"),
            "registration_date": get("registration_date"), "status": get("tm_status").lower(),
            "use_evidence": get("use_evidence")}}
        if not data["title"] and get("mark_text"):
            classes = "、".join(c for c in re.split(r"[,，;；|、\s]+", get("nice_classes")) if c)
            data["title"] = f"“{get('mark_text')}”商标（第{classes}类）"
    else:
        right = None
    data["rights"] = [right] if right else []
    return data


def import_rows(rows, seller, *, progress=None, first_row_number=2):
    """Create one draft per valid row for ``seller``. Returns the report:

    ``{"rows": n, "created": k, "listing_ids": […], "errors": [{"row", "column", "field", "reason"}]}``.
    ``progress`` (optional) is called once per row.
    """
    service.require_seller(seller)
    report = {"rows": 0, "created": 0, "listing_ids": [], "errors": []}
    for offset, row in enumerate(rows):
        number = first_row_number + offset
        report["rows"] += 1
        try:
            _check_cells(row)
            data = row_to_input(row)
            with db.session.begin_nested():
                listing, _warnings = service.create_listing(seller, data, warnings=False)
        except RowError as exc:
            report["errors"].append({"row": number, "column": exc.column, "field": exc.column, "reason": exc.reason})
        except ValidationError as exc:
            for field, reason in (exc.fields or {"row": exc.message}).items():
                report["errors"].append({"row": number, "column": column_for(field), "field": field,
                                         "reason": str(reason)})
        except DomainError as exc:
            report["errors"].append({"row": number, "column": "", "field": "", "reason": exc.message})
        else:
            report["created"] += 1
            report["listing_ids"].append(listing.id)
        if progress:
            progress(1)
    report["failed_rows"] = len({e["row"] for e in report["errors"]})
    return report


IMPORT_CHUNK = 200  # rows per commit in ``import_committing`` (each commit brings the search index up to date)


def import_committing(rows, seller, *, chunk=IMPORT_CHUNK, progress=None):
    """``import_rows`` in chunks of ``chunk`` rows, committing after each (the CLI's path).

    Each commit's after-commit hook applies that chunk's outbox rows to the search index (``search.outbox``),
    so the index stays current during a long import instead of being rebuilt after it. A chunk's valid rows
    stay committed if a later chunk fails (as one file's valid rows do when other rows are refused). On
    SQLite the import runs with ``synchronous=NORMAL`` (``fast_sqlite_commits``). Returns the merged report.
    """
    report = {"rows": 0, "created": 0, "listing_ids": [], "errors": []}
    with fast_sqlite_commits():
        for start in range(0, len(rows), chunk):
            part = import_rows(rows[start:start + chunk], seller, progress=progress, first_row_number=start + 2)
            db.session.commit()
            for key in ("rows", "created"):
                report[key] += part[key]
            report["listing_ids"] += part["listing_ids"]
            report["errors"] += part["errors"]
    report["failed_rows"] = len({e["row"] for e in report["errors"]})
    return report


@contextmanager
def fast_sqlite_commits():
    """SQLite: ``synchronous=NORMAL`` on this connection while bulk loading, ``FULL`` again afterwards.

    With pysqlite each row's savepoint is its own transaction (see docs/performance.md, "Findings"), so under
    ``FULL`` every row waits for an fsync. WAL with ``NORMAL`` stays consistent after a crash; the last
    commits become durable at the next checkpoint, which this runs when leaving. Other databases: nothing.
    """
    sqlite = db.engine.dialect.name == "sqlite"
    if sqlite:
        db.session.commit()
        db.session.execute(text("PRAGMA synchronous=NORMAL"))
    try:
        yield
    finally:
        if sqlite:
            db.session.commit()
            db.session.execute(text("PRAGMA synchronous=FULL"))
            db.session.execute(text("PRAGMA wal_checkpoint(PASSIVE)"))
            db.session.commit()


def _check_cells(row):
    """RowError naming the first cell longer than MAX_CELL_CHARS (cells beyond the header count too)."""
    for column, value in row.items():
        values = value if isinstance(value, list) else [value]
        if any(isinstance(v, str) and len(v) > MAX_CELL_CHARS for v in values):
            raise RowError(column or _("（表头之外的列）"),
                           _("单元格过长：最多 %(n)s 个字符", n=MAX_CELL_CHARS))


def decode(data: bytes) -> str:
    """CSV text from UTF-8 (with or without BOM) or GB18030 (what Excel on Chinese Windows writes)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            return data.decode("gb18030")
        except UnicodeDecodeError as exc:
            raise ValidationError(_("无法识别文件编码"), {"file": _("请保存为 UTF-8 或 GBK 编码的 CSV")}) from exc


def read_csv(text, max_rows=None):
    """Parse CSV text; check the header. Returns a list of row dicts.

    Bounded: a cell beyond the csv module's field limit, or more than ``max_rows`` rows, is a
    ValidationError naming the row (the header is row 1), found without reading further."""
    reader = csv.DictReader(io.StringIO(text))
    try:
        fieldnames = reader.fieldnames
    except csv.Error as exc:
        raise _unreadable(1, exc) from None
    header = [h.strip() for h in (fieldnames or [])]
    if not header:
        raise ValidationError(_("CSV 为空"), {"file": _("第1行应为表头，见导入说明")})
    reader.fieldnames = header
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise ValidationError(_("CSV 表头缺少必需的列"), {"file": _("缺少列：%(columns)s", columns="、".join(missing))})
    unknown = [c for c in header if c and c not in COLUMNS]
    if unknown:
        raise ValidationError(_("CSV 表头含有未知的列"),
                              {"file": _("未知的列：%(columns)s（见导入说明）", columns="、".join(unknown))})
    rows = []
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return rows
        except csv.Error as exc:
            raise _unreadable(len(rows) + 2, exc) from None  # the header is row 1
        rows.append(row)
        if max_rows and len(rows) > max_rows:
            raise ValidationError(_("行数过多"), {"file": _("一次最多导入 %(n)s 行，请拆分文件", n=max_rows)})


def _unreadable(line, exc):
    if "field larger than field limit" in str(exc):
        reason = _("第 %(row)s 行：单元格过长（最多 %(n)s 个字符）", row=line, n=MAX_CELL_CHARS)
    else:
        reason = _("第 %(row)s 行：CSV 格式错误（%(error)s）", row=line, error=str(exc))
    return ValidationError(_("CSV 无法读取"), {"file": reason})


def import_csv(data, seller, *, progress=None, max_rows=None, max_bytes=MAX_CSV_BYTES):
    """Import CSV bytes or text for ``seller``; ValidationError for an unreadable, too large or too long file."""
    size = len(data) if isinstance(data, bytes) else len(data.encode("utf-8"))
    if max_bytes and size > max_bytes:
        raise ValidationError(_("文件过大"), {"file": _("CSV 文件最大 %(n)s MB，请拆分文件", n=max_bytes // (1024 * 1024))})
    text = decode(data) if isinstance(data, bytes) else data
    rows = read_csv(text, max_rows=max_rows)
    return import_rows(rows, seller, progress=progress)


def template_csv():
    """An example CSV with the header and two rows (served on the upload page)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerow({"kind": "patent", "title": "一种锂电池正极材料及其制备方法", "deal_types": "assignment|non_exclusive_license",
                     "price_mode": "fixed", "price_yuan": "50万", "application_number": "201710601862.3",
                     "ipc_codes": "H01M 4/36|H01M 4/525", "filing_date": "2017-07-21", "grant_date": "2020-03-10",
                     "claims_count": "10", "legal_status": "granted"})
    writer.writerow({"kind": "trademark", "deal_types": "assignment", "price_mode": "negotiable",
                     "registration_number": "12345678", "mark_text": "星河", "nice_classes": "9|42",
                     "similar_groups": "0901|4220", "goods": "计算机程序（可下载软件）|计算机软件设计",
                     "registration_date": "2018-05-07", "tm_status": "registered"})
    return out.getvalue()
