"""Figures that leave the platform: the small-cell rule and CSV downloads, one of each for every package.

- ``MIN_CELL``: a published sum (a month's deal value, the royalty volume, the loans granted) is shown only
  where at least this many items make it up, so that no single negotiated price, royalty or loan can be read
  off (marketplace.web.stats, escrow.royalties, finance.lending).
- ``rows_response``: rows as a CSV download, cells a spreadsheet would run as formulas defused (``safe_cell``).
"""
import csv
import io

from flask import Response

MIN_CELL = 3


def safe_cell(value):
    """Keep spreadsheets from running a cell as a formula (CSV injection)."""
    text = "" if value is None else str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


def rows_response(rows, filename):
    """Rows as a CSV download (UTF-8 with a BOM, cells that a spreadsheet would run as formulas defused)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
    body = "\ufeff" + buffer.getvalue()  # BOM: Excel opens UTF-8 Chinese correctly
    return Response(body, mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename={filename}", "Cache-Control": "no-store"})
