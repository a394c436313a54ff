"""CSV import: each row on its own; valid rows become drafts, invalid rows are reported and write nothing."""
import csv
import io

import pytest

from listings import importer
from listings.identifiers import patent_check_char
from listings.models import Listing, Right
from marketplace.kernel.extensions import db
from tests import factories


def _patent_row(n):
    digits = f"2019{1 if n % 2 else 2}{n:07d}"
    return {"kind": "patent", "title": f"一种智能温控装置{n}", "deal_types": "assignment|non_exclusive_license",
            "price_mode": "fixed" if n % 3 else "negotiable", "price_yuan": f"{10 + n}万" if n % 3 else "",
            "application_number": f"{digits}.{patent_check_char(digits)}", "ipc_codes": "G05D 23/19",
            "filing_date": "2019-04-01", "grant_date": "2020-01-10", "claims_count": "8", "legal_status": "granted"}


BREAKERS = [
    ("application_number", lambda r: r.update(application_number=r["application_number"][:-1] + (
        "0" if r["application_number"][-1] != "0" else "1")), "校验位错误"),
    ("ipc_codes", lambda r: r.update(ipc_codes="ZZ99"), "IPC"),
    ("filing_date", lambda r: r.update(filing_date="2019/04/01"), "YYYY-MM-DD"),
    ("price_yuan", lambda r: r.update(price_mode="fixed", price_yuan="很多"), "金额"),
    ("legal_status", lambda r: r.update(legal_status="lapsed"), "失效"),
]


def _csv(rows):
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=importer.COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def test_500_rows_with_20_broken_make_480_drafts(app, seller):
    rows, broken = [], {}
    for n in range(500):
        row = _patent_row(n)
        if n % 25 == 7:  # 20 broken rows, five kinds of mistakes
            column, breaker, reason = BREAKERS[len(broken) % len(BREAKERS)]
            breaker(row)
            broken[n + 2] = (column, reason)  # header is row 1
        rows.append(row)
    report = importer.import_csv(_csv(rows).encode("utf-8-sig"), seller)
    db.session.commit()
    assert report["rows"] == 500 and report["created"] == 480 and report["failed_rows"] == 20
    assert db.session.query(Listing).filter_by(status="draft", organization_id=seller.organization_id).count() == 480
    assert db.session.query(Right).count() == 480
    reported = {e["row"]: e for e in report["errors"]}
    assert set(reported) == set(broken)
    for row_number, (column, reason) in broken.items():
        assert reported[row_number]["column"] == column, reported[row_number]
        assert reason in reported[row_number]["reason"], reported[row_number]


def test_trademark_rows_and_gbk_files(app, seller):
    rows = [{"kind": "商标", "deal_types": "assignment", "price_mode": "negotiable", "registration_number": "12345678",
             "mark_text": "星河", "nice_classes": "9|42", "similar_groups": "0901|4220", "goods": "计算机程序|软件设计",
             "registration_date": "2018-05-07", "tm_status": "registered"},
            {"kind": "trademark", "deal_types": "assignment", "price_mode": "negotiable",
             "registration_number": "22345678", "mark_text": "月光", "nice_classes": "35",
             "similar_groups": "0901", "registration_date": "2018-05-07", "tm_status": "registered"}]
    report = importer.import_csv(_csv(rows).encode("gb18030"), seller)
    assert report["created"] == 1
    assert report["errors"] == [{"row": 3, "column": "similar_groups", "field": "rights[0].trademark.similar_groups[0]",
                                 "reason": report["errors"][0]["reason"]}]
    assert "属于第9类" in report["errors"][0]["reason"]
    listing = db.session.get(Listing, report["listing_ids"][0])
    assert listing.title == "“星河”商标（第9、42类）"
    assert listing.rights[0].nice_classes == [9, 42]


def test_bad_header_is_refused(app, seller):
    import pytest

    from marketplace.kernel.errors import ValidationError
    with pytest.raises(ValidationError) as exc:
        importer.import_csv("kind,deal_types,price_mode,colour\npatent,assignment,fixed,red\n", seller)
    assert "colour" in exc.value.fields["file"]


def test_cli_import_with_progress_bar(app, runner, seller, tmp_path):
    path = tmp_path / "rights.csv"
    rows = [_patent_row(1), _patent_row(2)]
    rows[1]["application_number"] = "201910000002.0"
    path.write_text(_csv(rows), encoding="utf-8")
    result = runner.invoke(args=["listings", "import", str(path), "--seller", seller.email])
    assert result.exit_code == 0, result.output
    assert "drafts created: 1" in result.output
    assert "row 3, column application_number" in result.output
    assert db.session.query(Listing).count() == 1


def test_buyer_cannot_import(app):
    import pytest

    from marketplace.kernel.errors import PermissionDenied
    buyer = factories.make_user("buyer")
    with pytest.raises(PermissionDenied):
        importer.import_rows([_patent_row(1)], buyer)


def test_template_csv_imports_cleanly(app, seller):
    report = importer.import_csv(importer.template_csv(), seller)
    assert report["created"] == 2, report["errors"]


def test_cli_import_commits_in_chunks_and_keeps_the_index_current(app, runner, seller, tmp_path, monkeypatch):
    """Issue 18: one commit per chunk, each followed by the search index's drain (no rebuild after the import);
    the index's outbox position follows the import while it runs, and nothing waits at the end."""
    from marketplace.kernel.models import OutboxEvent
    from search import outbox
    from search.index import current_handle

    monkeypatch.setattr(outbox, "reindex", lambda *a, **kw: pytest.fail("the import must not rebuild the index"))
    handle = current_handle()
    positions = []
    original = importer.import_rows

    def spy(rows, seller, **kwargs):  # the index's position when each chunk starts
        positions.append(outbox.read_position(handle))
        return original(rows, seller, **kwargs)

    monkeypatch.setattr(importer, "import_rows", spy)
    path = tmp_path / "rights.csv"
    path.write_text(_csv([_patent_row(n) for n in range(1, 6)]), encoding="utf-8")
    result = runner.invoke(args=["listings", "import", str(path), "--seller", seller.email, "--chunk", "2"])
    assert result.exit_code == 0, result.output
    assert "drafts created: 5" in result.output and "not applied" not in result.output
    assert len(positions) == 3 and positions[0] < positions[1] < positions[2]  # caught up after every chunk
    newest = db.session.query(db.func.max(OutboxEvent.id)).scalar()
    assert outbox.read_position(handle) == newest and outbox.pending_count() == 0
    assert db.session.query(Listing).filter_by(status="draft").count() == 5


def test_cli_import_refuses_a_bad_chunk_and_a_buyer_and_writes_nothing(app, runner, seller, tmp_path):
    path = tmp_path / "rights.csv"
    path.write_text(_csv([_patent_row(1)]), encoding="utf-8")
    result = runner.invoke(args=["listings", "import", str(path), "--seller", seller.email, "--chunk", "0"])
    assert result.exit_code != 0 and "chunk" in result.output
    buyer = factories.make_user("buyer")
    db.session.commit()
    result = runner.invoke(args=["listings", "import", str(path), "--seller", buyer.email])
    assert result.exit_code != 0
    assert db.session.query(Listing).count() == 0 and db.session.query(Right).count() == 0
