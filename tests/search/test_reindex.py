"""The rebuild path (``flask search reindex``) made cheaper for 1M listings (issue 18) finds what it found before.

Two changes: a rebuild reads the open-licence declarations once (not one query a listing), and a segment's
per-document reader remembers that a field has no length column (Whoosh looked for the file on every posting).
"""
from whoosh.filedb.filestore import FileStorage

from listings import open_licence
from search import whoosh_reader
from search.index import build_schema, current_handle, listing_document
from search.outbox import reindex
from tests import factories
from tests.licensing.conftest import PERCENT_TERMS


def _open_licence_flags():
    with current_handle().open().searcher() as searcher:
        return {int(fields["lid"]): searcher.reader().column_reader("open_licence")[docnum]
                for docnum, fields in searcher.iter_docs()}


def test_a_reindex_marks_open_licences_from_one_query_of_the_declarations(app, client, monkeypatch):
    holder = factories.make_user("seller")
    declared = factories.make_listing(holder, deal_types=("non_exclusive_license",))
    other = factories.make_listing(factories.make_user("seller"), title="一种不开放许可的电池")
    from marketplace.kernel.extensions import db

    db.session.commit()
    r = client.post(f"/api/v1/listings/{declared.id}/open-licence", json=PERCENT_TERMS,
                    headers=factories.auth_header(holder))
    assert r.status_code == 201, r.get_json()
    calls = []
    monkeypatch.setattr(open_licence, "declaration_of", lambda *a, **k: calls.append(a) or None)
    assert reindex() == 2
    assert calls == []  # not asked per listing
    assert _open_licence_flags() == {declared.id: 1, other.id: 0}
    # the drain's path (one listing at a time) still asks per listing, and agrees
    monkeypatch.undo()
    assert listing_document(declared)["open_licence"] == 1 and listing_document(other)["open_licence"] == 0
    assert listing_document(declared, open_ids=set())["open_licence"] == 0


def test_a_commit_looks_for_a_missing_length_column_once_per_reader(tmp_path, monkeypatch):
    from whoosh import index as whoosh_index

    ix = whoosh_index.create_in(str(tmp_path), build_schema())
    looked = []
    exists = FileStorage.file_exists
    monkeypatch.setattr(FileStorage, "file_exists", lambda self, name: looked.append(name) or exists(self, name))
    writer = ix.writer()
    for i in range(30):
        writer.add_document(lid=str(i), title="一种锂电池正极材料", title_pos="一种锂电池正极材料",
                            title_pair="一种锂电池正极材料", body="锂电池 正极", body_pos="锂电池 正极",
                            body_pair="锂电池 正极", listing_id=i)
    writer.commit()
    no_length = [name for name in looked if "_title_pos_len" in name or "_body_pair_len" in name]
    assert 1 <= len(no_length) <= 2  # once per field, not once per posting (30 documents × several words)
    monkeypatch.undo()
    with ix.searcher() as searcher:  # what it wrote is what Whoosh reads
        assert searcher.doc_count() == 30
        assert searcher.reader().doc_frequency("title", "锂电池") == 30
        assert searcher.reader().doc_field_length(0, "title_pos") in (None, 0)
        assert searcher.reader().doc_field_length(0, "title") > 0
    assert whoosh_reader.INTERNALS["whoosh.codec.whoosh3.W3PerDocReader"]["methods"]["_cached_reader"]
