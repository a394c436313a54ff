"""``flask backup create`` / ``restore`` (issue 21): a restore gives back the same listings, deals, ledger
balances, uploaded documents and search results as when the backup was taken, on SQLite and on PostgreSQL
(the suite runs on both); a damaged or foreign backup is refused and changes nothing."""
import hashlib
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from escrow.ledger import account_balances
from escrow.models import Deal
from listings.models import Listing
from marketplace.kernel.extensions import db
from marketplace.web.backup import BackupError, create_backup, read_manifest, restore_backup, row_counts
from search.service import parse_params, search
from tests import factories

from .conftest import drive

QUERIES = ("锂电池", "正极材料", "星河")


def _state(app):
    uploads = Path(app.config["UPLOAD_PATH"])
    files = {str(p.relative_to(uploads)): hashlib.sha256(p.read_bytes()).hexdigest()
             for p in sorted(uploads.rglob("*")) if p.is_file()} if uploads.is_dir() else {}
    return {
        "listings": [(x.id, x.title, x.status, x.price) for x in db.session.scalars(select(Listing).order_by(Listing.id))],
        "deals": [(d.id, d.state, d.price) for d in db.session.scalars(select(Deal).order_by(Deal.id))],
        "ledger": account_balances(),
        "search": {q: [r["id"] for r in search(parse_params({"q": q})).results] for q in QUERIES},
        "files": files,
        "counts": row_counts(),
    }


@pytest.fixture
def history(app, parties, open_deal):
    """Two deals with money in the ledger and documents on disk, and a trademark listing."""
    done = open_deal()
    drive(done.id, "released", parties)
    held = open_deal()
    drive(held.id, "funded", parties)
    factories.make_listing(parties.seller, kind="trademark")
    db.session.commit()
    return done, held


def test_restore_gives_back_listings_deals_ledger_documents_and_search(app, tmp_path, history, parties):
    before = _state(app)
    assert before["files"] and before["ledger"]["escrow"]["CNY"] > 0 and before["search"]["锂电池"]
    folder = create_backup(tmp_path / "backups")
    manifest = read_manifest(folder)
    assert manifest["counts"] == before["counts"]

    # Life goes on after the backup: a new listing, a re-priced one, a deal paid, a document lost.
    factories.make_listing(parties.seller, title="一种锂电池隔膜")
    listing = db.session.get(Listing, before["listings"][0][0])
    listing.price = 1
    done, held = history
    drive(held.id, "transfer_filed", parties)
    next(iter(Path(app.config["UPLOAD_PATH"]).rglob("*.pdf"))).unlink()
    db.session.commit()
    assert _state(app) != before

    restore_backup(folder)

    assert _state(app) == before


def test_a_damaged_backup_is_refused_and_nothing_changes(app, tmp_path, history):
    folder = create_backup(tmp_path / "backups")
    database = next(p for p in folder.iterdir() if p.name.startswith("database."))
    data = bytearray(database.read_bytes())
    data[len(data) // 2] ^= 0xFF
    database.write_bytes(bytes(data))
    before = _state(app)
    with pytest.raises(BackupError, match="SHA-256"):
        restore_backup(folder)
    assert _state(app) == before


def test_a_backup_of_the_other_database_kind_is_refused(app, tmp_path, history):
    folder = create_backup(tmp_path / "backups")
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["database"] = "postgresql" if manifest["database"] == "sqlite" else "sqlite"
    (folder / "manifest.json").write_text(json.dumps(manifest))
    before = _state(app)
    with pytest.raises(BackupError, match="this site runs"):
        restore_backup(folder)
    assert _state(app) == before


def test_cli_create_and_restore(app, runner, tmp_path, history):
    before = _state(app)
    result = runner.invoke(args=["backup", "create", "--to", str(tmp_path / "b")])
    assert result.exit_code == 0, result.output
    folder = next((tmp_path / "b").glob("ipmart-backup-*"))
    db.session.get(Listing, before["listings"][0][0]).title = "改过的标题"
    db.session.commit()
    refused = runner.invoke(args=["backup", "restore", str(folder)], input="n\n")
    assert refused.exit_code != 0 and db.session.get(Listing, before["listings"][0][0]).title == "改过的标题"
    result = runner.invoke(args=["backup", "restore", str(folder), "--yes"])
    assert result.exit_code == 0, result.output
    assert "restored" in result.output
    db.session.remove()
    assert _state(app) == before
