"""Keeping the index true: after-commit drain, stale-index safety, recovery after a failed write, reindex."""
import os
import shutil
from datetime import timedelta

import pytest

from listings.models import DEAL_TYPES, Listing
from marketplace.kernel.extensions import db
from marketplace.kernel.models import OutboxEvent
from marketplace.kernel.timeutil import utcnow
from search import outbox
from search.index import IndexBusy, IndexHandle, current_handle
from tests import factories
from tests.search.conftest import ids, make_search_listing


def test_a_committed_listing_is_searchable_at_once(search_api, app):
    listing = make_search_listing(title="一种光伏逆变器")
    db.session.commit()
    assert ids(search_api(q="逆变器")) == [listing.id]
    assert outbox.read_position(current_handle()) == db.session.query(db.func.max(OutboxEvent.id)).scalar()


def test_changes_reach_the_index(search_api, app):
    listing = make_search_listing(title="一种光伏逆变器")
    db.session.commit()
    listing.title = listing.rights[0].title = "一种风力发电机组"
    db.session.commit()
    assert ids(search_api(q="逆变器")) == []
    assert ids(search_api(q="风力发电")) == [listing.id]
    listing.status = "withdrawn"
    db.session.commit()
    assert ids(search_api(q="风力发电")) == []


class TestStaleIndex:
    @pytest.fixture
    def app_config(self):
        return {"SEARCH_SYNC_ON_COMMIT": False}

    def test_withdrawn_listing_never_shown_even_if_the_index_is_stale(self, search_api, runner, app):
        keep = make_search_listing(title="锂电池隔膜材料")
        gone = make_search_listing(title="锂电池回收工艺")
        db.session.commit()
        assert runner.invoke(args=["search", "sync"]).exit_code == 0
        assert set(ids(search_api(q="锂电池"))) == {keep.id, gone.id}

        # Another window withdraws the listing; nothing updates the index.
        db.session.execute(db.update(Listing).where(Listing.id == gone.id).values(status="withdrawn"))
        db.session.commit()
        body = search_api(q="锂电池")
        assert ids(body) == [keep.id]
        assert body["total"] == 1
        page = search_api(q="锂电池", per_page=1)
        assert ids(page) == [keep.id]  # the stale hit is dropped and the page refilled

        result = runner.invoke(args=["search", "sync"])
        assert result.exit_code == 0, result.output
        assert ids(search_api(q="锂电池")) == [keep.id]

    def test_sync_applies_pending_rows(self, search_api, runner, app):
        listing = make_search_listing(title="一种光伏逆变器")
        db.session.commit()
        assert ids(search_api(q="逆变器")) == []  # sync on commit is off here
        assert outbox.pending_count() > 0
        result = runner.invoke(args=["search", "sync"])
        assert result.exit_code == 0, result.output
        assert "pending 0" in result.output
        assert ids(search_api(q="逆变器")) == [listing.id]


@pytest.mark.job_fails
def test_failed_index_write_never_fails_the_commit_and_sync_recovers(search_api, runner, app, monkeypatch):
    before = make_search_listing(title="一种光伏逆变器")
    db.session.commit()

    def broken_writer(self, timeout, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(IndexHandle, "writer", broken_writer)
    listing = make_search_listing(title="一种储能变流器")
    db.session.commit()  # must not raise
    assert listing.id is not None
    assert ids(search_api(q="变流器")) == []
    assert outbox.pending_count() > 0  # the rows wait for a retry

    monkeypatch.undo()
    result = runner.invoke(args=["search", "sync"])
    assert result.exit_code == 0, result.output
    assert ids(search_api(q="变流器")) == [listing.id]
    assert ids(search_api(q="逆变器")) == [before.id]
    assert outbox.pending_count() == 0


def test_busy_writer_lock_leaves_rows_for_the_next_commit(search_api, app):
    handle = current_handle()
    blocker = handle.open().writer()  # another process holds the lock
    try:
        app.config["SEARCH_WRITER_TIMEOUT"] = 0.1
        listing = make_search_listing(title="一种储能变流器")
        db.session.commit()
        assert ids(search_api(q="变流器")) == []
    finally:
        blocker.cancel()
    other = make_search_listing(title="一种光伏逆变器")
    db.session.commit()  # the next drain catches up with the earlier rows too
    assert ids(search_api(q="变流器")) == [listing.id]
    assert ids(search_api(q="逆变器")) == [other.id]


def test_failed_write_through_the_http_api_still_answers(client, search_api, runner, app, monkeypatch):
    """A real request (withdraw) answers normally while the index cannot be written; the hit disappears anyway."""
    seller = factories.make_user("seller")
    listing = make_search_listing(seller, title="一种储能变流器")
    headers = factories.auth_header(seller)
    db.session.commit()
    assert ids(search_api(q="变流器")) == [listing.id]

    def broken_writer(self, timeout, **kwargs):
        raise IndexBusy("locked")

    monkeypatch.setattr(IndexHandle, "writer", broken_writer)
    response = client.post(f"/api/v1/listings/{listing.id}/withdraw", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert ids(search_api(q="变流器")) == []  # the index is stale, the database re-check is not
    monkeypatch.undo()
    assert runner.invoke(args=["search", "sync"]).exit_code == 0
    assert current_handle().snapshot().doc_count == 0


def test_reindex_after_deleting_the_folder_gives_identical_results(search_api, runner, app):
    seller = factories.make_user("seller")
    for i, title in enumerate(["一种锂电池正极材料", "电池组件散热结构", "一种图像识别方法", "人脸识别门禁系统",
                               "Lithium batteries", "星河"]):
        make_search_listing(seller, title=title, kind="trademark" if title == "星河" else "patent",
                            grade="ABCD"[i % 4], price=(i + 1) * 1_0000_00, age_days=i,
                            number=f"20171060{i:04d}.1" if title != "星河" else f"1234567{i}")
    db.session.commit()
    queries = [{}, {"q": "电池"}, {"q": "识别"}, {"q": '"图像识别方法"'}, {"q": "battery"},
               {"sort": "price_desc"}, {"grade": "A"}, {"kind": "trademark"}, {"q": "201710600002.1"}]
    before = [search_api(**q) for q in queries]
    path = app.config["SEARCH_INDEX_PATH"]
    shutil.rmtree(path)
    assert not os.path.exists(path)
    assert search_api()["total"] == 0  # an empty index until rebuilt; never an error
    result = runner.invoke(args=["search", "reindex"])
    assert result.exit_code == 0, result.output
    assert "indexed 6" in result.output
    after = [search_api(**q) for q in queries]
    assert after == before
    # the rebuilt index knows its outbox position: nothing is pending
    assert outbox.pending_count() == 0


def test_reindex_drops_what_is_no_longer_published(search_api, runner, app):
    listing = make_search_listing(title="一种光伏逆变器")
    db.session.commit()
    app.config["SEARCH_SYNC_ON_COMMIT"] = False
    listing.status = "withdrawn"
    db.session.commit()
    assert runner.invoke(args=["search", "reindex"]).exit_code == 0
    with db.session.no_autoflush:
        assert current_handle().snapshot().doc_count == 0


def test_position_waits_for_a_young_gap_and_passes_an_old_one():
    now = utcnow()
    young = now - timedelta(seconds=1)
    old = now - timedelta(minutes=10)
    assert outbox._advance(5, [(6, 1, young), (7, 1, young)], now, 30) == 7
    assert outbox._advance(5, [(6, 1, young), (8, 1, young)], now, 30) == 6  # 7 may still commit
    assert outbox._advance(5, [(6, 1, old), (8, 1, old), (9, 1, young)], now, 30) == 9  # 7 was rolled back


def test_rows_after_a_young_gap_are_applied_but_kept(search_api, app):
    app.config["SEARCH_SYNC_ON_COMMIT"] = False
    listing = make_search_listing(title="一种光伏逆变器")
    db.session.commit()
    last = db.session.query(db.func.max(OutboxEvent.id)).scalar()
    # Pretend an earlier id is still in flight: the position sits two ids back with a hole before the rows.
    outbox.write_position(current_handle(), max(0, last - 50))
    db.session.execute(db.delete(OutboxEvent).where(OutboxEvent.id < last))
    db.session.commit()
    report = outbox.drain()
    assert ids(search_api(q="逆变器")) == [listing.id]  # applied now
    assert report.position < last  # but the position waits for the gap


def test_prune_keeps_recent_rows_and_the_newest(app):
    app.config["SEARCH_SYNC_ON_COMMIT"] = False
    make_search_listing(title="一种光伏逆变器")
    db.session.commit()
    rows = db.session.query(OutboxEvent).order_by(OutboxEvent.id).all()
    for row in rows:
        row.created_at = utcnow() - timedelta(days=30)
    db.session.commit()
    make_search_listing(title="一种储能变流器")
    db.session.commit()
    total = db.session.query(OutboxEvent).count()
    pruned = outbox.prune()
    assert pruned == len(rows)
    assert db.session.query(OutboxEvent).count() == total - len(rows)
    # everything old: the newest row still stays so ids keep increasing
    for row in db.session.query(OutboxEvent):
        row.created_at = utcnow() - timedelta(days=30)
    db.session.commit()
    outbox.prune()
    assert db.session.query(OutboxEvent).count() == 1


def test_two_handles_on_one_folder_see_each_others_writes(app, search_api):
    """Two processes (here: two handles) share the folder; a reader reopens when the other one commits."""
    listing = make_search_listing(title="一种光伏逆变器")
    db.session.commit()
    other = IndexHandle(app.config["SEARCH_INDEX_PATH"])
    assert other.snapshot().doc_count == 1
    second = make_search_listing(title="一种储能变流器")
    db.session.commit()
    assert other.snapshot().doc_count == 2
    assert {listing.id, second.id} == set(int(x) for x in other.snapshot().lid)


def test_savepoints_do_not_trigger_the_drain_early(search_api, app):
    """SQLAlchemy calls after_commit for a released SAVEPOINT too; the drain must wait for the real commit
    (the importer and the demo seed create each listing inside begin_nested())."""
    for title in ("一种光伏逆变器", "一种储能变流器"):
        with db.session.begin_nested():
            make_search_listing(title=title)
    assert outbox.pending_count() > 0  # nothing applied yet: still uncommitted
    db.session.commit()
    assert search_api(q="逆变器")["total"] == 1
    assert search_api(q="变流器")["total"] == 1
    assert outbox.pending_count() == 0


def test_an_index_with_an_old_schema_is_replaced_not_a_500(app, search_api, runner, caplog):
    from whoosh import fields as wf
    from whoosh import index as wi

    listing = make_search_listing(title="一种光伏逆变器")
    db.session.commit()
    path = app.config["SEARCH_INDEX_PATH"]
    shutil.rmtree(path)
    os.makedirs(path)
    wi.create_in(path, wf.Schema(lid=wf.ID(unique=True, stored=True), text=wf.TEXT()))
    current_handle()._reset()
    assert search_api(q="逆变器")["total"] == 0
    assert "old schema" in caplog.text
    assert runner.invoke(args=["search", "reindex"]).exit_code == 0
    assert ids(search_api(q="逆变器")) == [listing.id]


def test_an_index_without_the_deal_type_prices_gets_them_and_reads_the_listing_price(app, search_api, monkeypatch):
    """An index written before the per-deal-type price columns (issue 17) keeps its documents: the columns are
    added in place and a price filter on a deal type reads each old document's listing price."""
    from search import schema

    path = app.config["SEARCH_INDEX_PATH"]
    with monkeypatch.context() as old:
        for name in [f"price_{d}" for d in DEAL_TYPES]:
            old.delitem(schema.COLUMN_FIELDS, name)
        old.setattr(schema, "deal_type_prices", lambda listing: {})
        shutil.rmtree(path, ignore_errors=True)
        current_handle()._reset()
        listing = make_search_listing(title="一种光伏逆变器", price=8_0000_00, deal_types=["non_exclusive_license"])
        db.session.commit()
        assert "price_assignment" not in current_handle().open().schema
    current_handle()._reset()
    assert "price_assignment" in current_handle().open().schema  # added, the document kept
    assert ids(search_api(deal_type="non_exclusive_license", price_max=str(10_0000_00))) == [listing.id]
    assert ids(search_api(deal_type="non_exclusive_license", price_min=str(10_0000_00))) == []


def test_an_index_without_word_pairs_gets_them_in_place_and_phrases_still_match(app, search_api, runner):
    """Issue 18: the word-pair fields are added to an older index in place (no empty index after deploying);
    its documents have no pairs yet, so phrases read positions until `search reindex` has written them."""
    from whoosh import index as wi

    from search.schema import build_schema, listing_document
    from search.storage import PAIRS_MARKER

    listing = make_search_listing(title="一种光伏逆变器的控制方法")
    db.session.commit()
    path = app.config["SEARCH_INDEX_PATH"]
    shutil.rmtree(path)
    os.makedirs(path)
    schema = build_schema()
    for name in ("title_pair", "body_pair"):
        schema.remove(name)
    old = wi.create_in(path, schema)
    writer = old.writer()
    writer.add_document(**{k: v for k, v in listing_document(listing).items() if not k.endswith("_pair")})
    writer.commit()
    current_handle()._reset()
    assert ids(search_api(q='"逆变器的控制"')) == [listing.id]  # positions: the old document has no pairs
    assert "title_pair" in current_handle().open().schema.names()
    assert not os.path.exists(os.path.join(path, PAIRS_MARKER)) and not current_handle().snapshot().pairs
    assert ids(search_api(q='"控制 逆变器"')) == []
    assert runner.invoke(args=["search", "reindex"]).exit_code == 0
    assert current_handle().snapshot().pairs
    assert ids(search_api(q='"逆变器的控制"')) == [listing.id]
    assert ids(search_api(q='"控制 逆变器"')) == []


def test_a_drain_of_drafts_only_writes_nothing_to_the_index(search_api, app, monkeypatch):
    """Drafts (a bulk import's) are not searchable and not in the index: the drain moves its position over
    their rows without opening a writer (no new index generation); a published listing turned draft is
    still taken out."""
    published = make_search_listing(title="一种光伏逆变器")
    db.session.commit()
    handle = current_handle()
    generation = handle.open().latest_generation()
    opened = []
    original = type(handle).writer
    monkeypatch.setattr(type(handle), "writer", lambda self, *a, **kw: opened.append(1) or original(self, *a, **kw))
    for n in range(3):
        make_search_listing(title=f"一种储能变流器{n}", status="draft")
    db.session.commit()
    assert opened == [] and handle.open().latest_generation() == generation
    assert outbox.read_position(handle) == db.session.query(db.func.max(OutboxEvent.id)).scalar()

    published.status = "draft"  # in the index: the drain must write its removal
    db.session.commit()
    assert opened == [1]
    assert ids(search_api(q="逆变器")) == []
