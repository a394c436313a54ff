"""``search.whoosh_reader`` reads Whoosh's private internals (issue 20): these tests fail when an upgrade of
Whoosh changes what it reads, and check that what it reads agrees with Whoosh's own public API."""
import importlib
import inspect
import re
from pathlib import Path

import numpy as np
import pytest
import whoosh

from search import whoosh_reader
from search.storage import IndexHandle

ROOT = Path(__file__).resolve().parents[2]


def _doc(i, title, body=""):
    return {"lid": str(i), "title": title, "title_pos": title, "title_pair": title, "body": body, "body_pos": body,
            "body_pair": body, "numbers": "", "ipc": "", "listing_id": i, "kind": i % 2, "patent_type": 0, "grade": i % 5, "ipc_section": 0,
            "nice_class": 0, "deal_type": 0, "price_mode": 0, "price": i * 100, "region": 0, "published": i}


@pytest.fixture
def segreader(tmp_path):
    """One segment of 300 documents (three posting blocks for the common words), with deletions."""
    handle = IndexHandle(str(tmp_path / "ix"))
    writer = handle.writer(5)
    for i in range(1, 301):
        writer.add_document(**_doc(i, f"一种锂电池 图像识别 方法 {'装置' if i % 3 else ''}", "检测 方法 battery"))
    writer.commit()
    writer = handle.writer(5)
    for i in range(1, 40, 4):
        writer.delete_by_term("lid", str(i))
    writer.commit(merge=False)
    snap = handle.snapshot()
    assert len(snap.leaves) == 1
    yield snap.leaves[0][0]
    snap.close()


def _resolve(dotted):
    """A class or module from a dotted path such as 'whoosh.columns.NumericColumn.Reader'."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            obj = getattr(obj, name)
        return obj
    raise ImportError(dotted)


def test_whoosh_is_pinned_to_the_version_the_reader_was_written_for():
    pinned = re.search(r"^Whoosh==(\S+)", (ROOT / "requirements.txt").read_text(), re.MULTILINE | re.IGNORECASE)
    assert pinned, "requirements.txt must pin Whoosh with =="
    assert pinned.group(1) == whoosh_reader.WHOOSH_VERSION
    assert ".".join(map(str, whoosh.__version__)) == whoosh_reader.WHOOSH_VERSION


@pytest.mark.parametrize("dotted", sorted(whoosh_reader.INTERNALS))
def test_the_methods_it_calls_exist_with_their_parameters(dotted):
    target = _resolve(dotted)
    for name, params in whoosh_reader.INTERNALS[dotted]["methods"].items():
        method = getattr(target, name)
        assert callable(method), f"{dotted}.{name}"
        signature = [p for p in inspect.signature(method).parameters if p != "self"]
        assert signature[:len(params)] == list(params), f"{dotted}.{name}{tuple(signature)}"


def test_the_attributes_it_reads_exist_on_live_objects(segreader):
    """Instance attributes are set in ``__init__``: look at the real objects an index gives."""
    from whoosh.codec.whoosh3 import LENGTHS_COLUMN

    perdoc = segreader._perdoc
    coltype = segreader.schema["price"].column_type
    raw_matcher = segreader.postings("title", "方法")  # deletions: wrapped in a FilterMatcher
    live = {
        "whoosh.codec.whoosh3.W3LeafMatcher": raw_matcher.child,
        "whoosh.reading.SegmentReader": segreader,
        "whoosh.codec.whoosh3.W3PerDocReader": perdoc,
        "whoosh.columns.NumericColumn": coltype,
        "whoosh.columns.FixedBytesColumn.Reader": perdoc.column_reader("price", coltype),
        "whoosh.filedb.structfile.StructFile": perdoc.column_reader("price", coltype)._dbfile,
        "whoosh.matching.wrappers.FilterMatcher": raw_matcher,
        "whoosh.util.numeric": importlib.import_module("whoosh.util.numeric"),
        "whoosh.formats.Positions": segreader.schema["title_pos"].format,
        "whoosh.codec.base.Segment": segreader.segment(),
    }
    assert set(live) == set(whoosh_reader.INTERNALS)
    for dotted, obj in live.items():
        assert (obj is _resolve(dotted)) if inspect.ismodule(obj) else isinstance(obj, _resolve(dotted)), dotted
        for attribute in whoosh_reader.INTERNALS[dotted]["attributes"]:
            assert hasattr(obj, attribute), f"{dotted} has no {attribute}"
    assert isinstance(perdoc.column_reader("_title_len", LENGTHS_COLUMN), _resolve("whoosh.columns.FixedBytesColumn.Reader"))
    matcher = raw_matcher.child
    matcher.reset()
    matcher._read_data()
    assert len(matcher._data) == 3 and len(matcher._data[0]) == matcher._blocklength  # (id deltas, weights, values)
    assert len(whoosh_reader.LENGTHS) == 256


def _whoosh_postings(segreader, field, term):
    matcher = segreader.postings(field, term).child  # deleted documents too, as the reader returns them
    matcher.reset()
    out = {}
    while matcher.is_active():
        out[matcher.id()] = (matcher.weight(), matcher.value())
        matcher.next()
    return out


@pytest.mark.parametrize("fast", [True, False], ids=["block-reader", "public-fallback"])
@pytest.mark.parametrize("term", ["一种", "锂电", "方法", "装置", "batteri", "absent"])
def test_postings_and_positions_agree_with_whoosh(segreader, monkeypatch, fast, term):
    if not fast:
        monkeypatch.setattr(whoosh_reader, "_fast", lambda matcher: False)
    field = "body" if term in ("batteri",) else "title"
    theirs = _whoosh_postings(segreader, field, term) if (field, term) in segreader else {}
    ids, tfs = whoosh_reader.postings(segreader, field, term)
    assert ids.tolist() == sorted(theirs)
    assert tfs.tolist() == [theirs[d][0] for d in sorted(theirs)]
    if term in ("方法", "装置"):
        assert len(ids) > 128  # more than one block

    pos_field = f"{field}_pos"
    theirs_pos = _whoosh_postings(segreader, pos_field, term) if (pos_field, term) in segreader else {}
    fmt = segreader.schema[pos_field].format
    wanted = np.array(sorted(theirs_pos)[::7] + [299], dtype=np.int64)
    ours = whoosh_reader.positions(segreader, pos_field, term, np.unique(wanted))
    assert set(ours) == {d for d in theirs_pos if d in set(wanted.tolist())}
    for doc, value in ours.items():
        assert whoosh_reader.decode_positions(value).tolist() == fmt.decode_positions(theirs_pos[doc][1])
    ids, offsets, flat = whoosh_reader.flatten_positions(*whoosh_reader.all_positions(segreader, pos_field, term))
    assert ids.tolist() == sorted(theirs_pos)
    assert [flat[offsets[i]:offsets[i + 1]].tolist() for i in range(len(ids))] == [
        fmt.decode_positions(theirs_pos[d][1]) for d in sorted(theirs_pos)]


def test_columns_and_lengths_agree_with_whoosh(segreader):
    n = segreader.doc_count_all()
    price = whoosh_reader.numeric_column(segreader, "price", segreader.schema["price"].column_type, n)
    assert price.tolist() == [segreader.column_reader("price")[d] for d in range(n)]
    lengths = whoosh_reader.field_lengths(segreader, "title", n)
    assert lengths.tolist() == [segreader.doc_field_length(d, "title") for d in range(n)]


def test_segment_names_do_not_repeat_when_random_is_seeded(tmp_path):
    """Regression (found by the worker-mode run, under Hypothesis): Whoosh drew segment names from ``random``, so
    after ``random.seed`` two writes to one index drew the same name and the second commit failed."""
    import random

    handle = IndexHandle(str(tmp_path / "ix"))
    for i in range(1, 4):
        random.seed(1234)
        writer = handle.writer(5)
        writer.add_document(**_doc(i, f"一种锂电池 {i}"))
        writer.commit(merge=False)
    snap = handle.snapshot()
    try:
        assert len(snap.leaves) == 3
        assert len({leaf[0].segment().segid for leaf in snap.leaves}) == 3
    finally:
        snap.close()


@pytest.mark.parametrize("term", ["方法", "装置", "一种", "absent"])
def test_the_block_directory_reads_the_same_positions_as_walking_the_blocks(segreader, term):
    """Issue 18: with a term's block directory, ``positions`` jumps to the blocks holding the wanted documents;
    it returns exactly what walking every block header gives, for documents in the first, a middle and the last
    block, between blocks, deleted (the reader returns them; ``live`` masks them) and past the term's last one."""
    field = "title_pos"
    directory = whoosh_reader.block_directory(segreader, field, term)
    if term == "absent":
        assert directory is None
        return
    last_ids, offsets = directory
    matcher = segreader.postings(field, term).child
    matcher.reset()
    theirs = []
    while matcher.is_active():
        theirs.append(matcher._maxid)
        matcher._next_block()
    assert last_ids.tolist() == theirs and len(offsets) == len(theirs) > 1  # several blocks
    every = sorted(_whoosh_postings(segreader, field, term))
    for wanted in ([every[0]], [every[-1]], every[::9], every[126:131], [1, 5, 9, 299, 300, 400], every):
        wanted = np.unique(np.array(wanted, dtype=np.int64))
        assert whoosh_reader.positions(segreader, field, term, wanted, directory) == \
            whoosh_reader.positions(segreader, field, term, wanted)
    assert whoosh_reader.positions(segreader, field, term, np.array([10_000], dtype=np.int64), directory) == {}
