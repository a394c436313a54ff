"""CSV import bounds (issue 14): each cell, each file's bytes and rows; errors name the row and column."""
import pytest

from listings import importer
from listings.models import Listing
from marketplace.kernel.errors import ValidationError
from marketplace.kernel.extensions import db

HEADER = "kind,deal_types,price_mode,price_yuan,title,description\n"
OK_ROW = "patent,assignment,fixed,5万,标题,说明\n"


def _count():
    return db.session.query(Listing).count()


@pytest.mark.parametrize("length", [importer.MAX_CELL_CHARS + 1, 131_073, 1_000_000])
def test_an_overlong_cell_is_an_error_of_its_row_naming_the_column(app, seller, length):
    """Beyond 131,072 characters the csv module raised '_csv.Error: field larger than field limit' (a 500)."""
    text = HEADER + OK_ROW + f"patent,assignment,fixed,5万,标题,{'长' * length}\n"
    report = importer.import_csv(text.encode("utf-8"), seller)
    assert report["rows"] == 2
    row3 = [e for e in report["errors"] if e["row"] == 3]
    assert [e["column"] for e in row3] == ["description"] and "20000" in row3[0]["reason"]
    assert _count() == report["created"] == 0


def test_a_cell_at_the_limit_is_read(app, seller):
    text = HEADER + f"patent,assignment,fixed,5万,标题,{'长' * importer.MAX_CELL_CHARS}\n"
    report = importer.import_csv(text, seller)
    assert not any(e["column"] == "description" and "单元格过长" in e["reason"] for e in report["errors"])


def test_cells_beyond_the_header_are_bounded_too(app, seller):
    report = importer.import_csv(HEADER + OK_ROW.strip() + ",extra," + "x" * (importer.MAX_CELL_CHARS + 1) + "\n",
                                 seller)
    assert [(e["row"], "单元格过长" in e["reason"]) for e in report["errors"]] == [(2, True)]
    assert _count() == 0


def test_too_many_rows_is_refused_before_any_row_is_imported(app, seller):
    with pytest.raises(ValidationError) as err:
        importer.import_csv(HEADER + OK_ROW * 6, seller, max_rows=5)
    assert "5" in err.value.fields["file"]
    assert _count() == 0
    assert importer.import_csv(HEADER + OK_ROW * 5, seller, max_rows=5)["rows"] == 5


def test_a_file_over_the_byte_limit_is_refused(app, seller):
    data = (HEADER + OK_ROW * 10).encode("utf-8")
    with pytest.raises(ValidationError) as err:
        importer.import_csv(data, seller, max_bytes=len(data) - 1)
    assert "file" in err.value.fields
    assert _count() == 0
    assert importer.import_csv(data, seller, max_bytes=len(data))["rows"] == 10
