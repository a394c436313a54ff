"""The fast block reader and phrase check agree with Whoosh's own matchers (several blocks, deletions)."""
import random

import numpy as np
import pytest
from whoosh import query as wq

from search.executor import Clause
from search.index import IndexHandle


def _doc(i, title, body=""):
    return {"lid": str(i), "title": title, "title_pos": title, "title_pair": title, "body": body, "body_pos": body,
            "body_pair": body, "numbers": "", "ipc": "", "listing_id": i, "kind": 0, "patent_type": 0, "grade": 0, "ipc_section": 0, "nice_class": 0,
            "deal_type": 0, "price_mode": 0, "price": -1, "region": 0, "published": i}


@pytest.fixture
def snapshot(tmp_path):
    return _index(tmp_path).snapshot()


def _index(tmp_path):
    rng = random.Random(7)
    words = ["一种", "锂电池", "图像识别", "方法", "装置", "系统", "控制", "battery", "检测"]
    handle = IndexHandle(str(tmp_path / "ix"))
    writer = handle.writer(5)
    for i in range(1, 701):  # several 128-posting blocks per common term
        writer.add_document(**_doc(i, "".join(rng.choices(words, k=6)), " ".join(rng.choices(words, k=4))))
    writer.commit()
    writer = handle.writer(5)  # a second segment, and deletions in the first
    for i in range(701, 801):
        writer.add_document(**_doc(i, "".join(rng.choices(words, k=5))))
    for i in range(1, 60, 3):
        writer.delete_by_term("lid", str(i))
    writer.commit(merge=False)
    return handle


@pytest.mark.parametrize("term", ["一种", "电池", "锂电池", "识别", "batteri", "方法"])
def test_block_reader_matches_whoosh(snapshot, term):
    ids, tfs = snapshot.term_postings("title", term)
    live = {}  # what Whoosh's own (deletion-filtering) matcher yields
    for segreader, offset in snapshot.leaves:
        if ("title", term) in segreader:
            for docnum, weight in segreader.postings("title", term).items_as("weight"):
                live[docnum + offset] = weight
    ours = dict(zip(ids.tolist(), tfs.tolist(), strict=True))
    assert len(ids) > 128
    assert np.all(np.diff(ids) > 0)
    # ours also holds deleted documents (masked later by ``live``): exactly those
    assert {d: w for d, w in ours.items() if snapshot.live[d]} == live
    assert all(not snapshot.live[d] for d in set(ours) - set(live))


@pytest.mark.parametrize("words", [["图像识别", "方法"], ["锂电池", "图像识别"], ["方法", "装置", "系统"],
                                   ["电池", "图像识别"], ["一种", "锂电池", "方法", "装置"], ["batteri", "检测"],
                                   ["控制", "识别"]])
def test_phrase_check_matches_whoosh(snapshot, words):
    candidates = snapshot.live.copy()
    ours = set(np.nonzero(snapshot.phrase_docs(words, candidates))[0].tolist())
    q = wq.Or([wq.Phrase("title_pos", words), wq.Phrase("body_pos", words)])
    theirs = set(snapshot.searcher.docs_for_query(q))
    assert ours == theirs
    assert ours
    # restricted to some candidates (blocks without one are skipped unread): exactly those of them
    some = np.zeros(snapshot.size, dtype=bool)
    some[sorted(theirs)[::3]] = True
    some[::50] = True
    assert set(np.nonzero(snapshot.phrase_docs(words, some & snapshot.live))[0].tolist()) == {
        d for d in theirs if some[d]}


def _results(snap, words):
    postings = {w: tuple(a.tolist() for a in snap.term_postings("title", w)) for w in words}
    return postings, snap.phrase_docs(words, snap.live.copy()).tolist()


# Three words: a two-word phrase is one look-up in the pair field and reads no positions at all.
@pytest.mark.parametrize("words", [["图像识别", "方法", "装置"], ["方法", "装置", "系统"]])
def test_the_postings_cache_changes_no_result(snapshot, words):
    """Issue 18: common terms' decoded postings are cached per segment; cold, warm and a cache too small to keep
    anything give the same postings and phrase matches."""
    from search.executor import PostingsCache, Snapshot

    cold = _results(snapshot, words)
    assert snapshot.postings_cache.bytes > 0  # the common words were kept
    assert _results(snapshot, words) == cold  # warm (positions, or where their blocks are, kept now)
    assert any(key[1] == "title_pos" for key in snapshot.postings_cache._entries)
    assert _results(snapshot, words) == cold
    tiny = Snapshot(snapshot.searcher, {}, PostingsCache(max_bytes=0))
    assert _results(tiny, words) == cold and tiny.postings_cache.bytes == 0


def test_the_postings_cache_forgets_segments_that_are_gone(tmp_path):
    rng = random.Random(3)
    words = ["一种", "方法", "装置", "系统"]
    handle = IndexHandle(str(tmp_path / "ix"))
    for start in (1, 301):
        writer = handle.writer(5)
        for i in range(start, start + 300):
            writer.add_document(**_doc(i, "".join(rng.choices(words, k=4))))
        writer.commit(merge=False)
    snap = handle.snapshot()
    for _ in range(2):  # positions asked for every document are kept from the second time they are asked for
        snap.phrase_docs(["方法", "装置", "系统"], snap.live.copy())
        snap.term_positions("title_pos", "方法", np.nonzero(snap.live)[0])
    assert {key[0] for key in snap.postings_cache._entries} == set(snap.segment_ids)
    assert any(key[1] == "title_pos" for key in snap.postings_cache._entries)
    writer = handle.writer(5)
    writer.add_document(**_doc(999, "一种方法装置"))
    writer.commit(optimize=True)  # one new segment replaces both
    fresh = handle.snapshot()
    assert not any(key[0] not in fresh.segment_ids for key in fresh.postings_cache._entries)
    phrase = ["方法", "装置", "系统"]
    theirs = set(fresh.searcher.docs_for_query(wq.Or([wq.Phrase("title_pos", phrase), wq.Phrase("body_pos", phrase)])))
    assert set(np.nonzero(fresh.phrase_docs(phrase, fresh.live.copy()))[0].tolist()) == theirs


_QUERIES = [
    [Clause(["一种", "锂电池"], phrase=True, exact=True)],
    [Clause(["方法", "装置", "系统"], phrase=True)],
    [Clause(["锂电池"]), Clause(["方法"])],
    [Clause(["图像识别"]), Clause(["控制", "识别"], phrase=True)],
    [Clause(["电池"], alternatives=[["图像识别"]]), Clause(["方法", "装置"], phrase=True)],
    [Clause(["方法", "装置"], phrase=True, alternatives=[["系统"]])],  # found through 系统: 方法, 装置 apart still score
    [Clause(["batteri", "检测"], loose=True), Clause(["系统"])],
    [Clause(["识别"])],  # a single word whose finer cut is matched as a phrase too
]


@pytest.fixture(scope="module")
def shared_handle(tmp_path_factory):
    return _index(tmp_path_factory.mktemp("scoring"))


@pytest.mark.parametrize("clauses", _QUERIES)
@pytest.mark.parametrize("match_any", [False, True])
def test_scoring_only_the_matches_changes_no_result(shared_handle, monkeypatch, clauses, match_any):
    """Issue 18 (session 8): BM25 is added only to documents that can still be in the result (the filters and every
    clause ANDed), and a phrase skips the per-field masks when word pairs answer it. Totals, the ids in order,
    the scores (exactly) and the facets are what scoring every document holding a word gave."""
    from search import executor
    from search.executor import IndexQuery, query_index

    cases = [(IndexQuery(clauses=clauses, restrict_ids=restrict, match_any=match_any), sort)
             for restrict in (None, tuple(range(1, 801, 3))) for sort in ("relevance", "grade", "newest")]
    ours = [query_index(shared_handle, iq, sort=sort, limit=40) for iq, sort in cases]
    original = executor._clause_match
    with monkeypatch.context() as patch:
        patch.setattr(executor, "_clause_match", lambda snap, clause, scores, within=None: original(snap, clause, scores))
        patch.setattr(executor.Snapshot, "pairs_in_every_field", lambda self: False)
        before = [query_index(shared_handle, iq, sort=sort, limit=40) for iq, sort in cases]
    for mine, theirs in zip(ours, before, strict=True):
        assert (mine.total, mine.ids, mine.scores, mine.facets) == (theirs.total, theirs.ids, theirs.scores,
                                                                    theirs.facets)
    assert ours[0].total


def test_a_few_candidates_never_decode_a_common_words_whole_positions(snapshot):
    """Issue 18: a phrase whose other words leave a few documents reads a common word's positions only in the
    blocks holding them (through the word's block directory), however often it is asked: decoding the word's
    whole list (hundreds of blocks at 100,000 listings) was a 30–60 ms spike of one query. Many candidates do
    decode it whole, once asked before, and keep it; either way the matches are the same."""
    from search.executor import PostingsCache

    few = np.zeros(snapshot.size, dtype=bool)
    few[np.nonzero(snapshot.live)[0][:5]] = True
    whole = [key for key in snapshot.postings_cache._entries if key[1:] == ("title_pos", "方法")]
    first = snapshot.term_positions("title_pos", "方法", np.nonzero(few)[0])
    for _ in range(3):
        assert snapshot.term_positions("title_pos", "方法", np.nonzero(few)[0]).keys() == first.keys()
    kept = [key for key in snapshot.postings_cache._entries if key[1:3] == ("title_pos", "方法")]
    assert whole == [] and kept and all(key[-1] == "blocks" for key in kept)  # the directory only

    many = np.nonzero(snapshot.live)[0]
    wide = snapshot.term_positions("title_pos", "方法", many)
    assert snapshot.term_positions("title_pos", "方法", many).keys() == wide.keys()
    assert ((snapshot.segment_ids[0], "title_pos", "方法") in snapshot.postings_cache._entries)  # decoded whole
    assert {d: p.tolist() for d, p in wide.items() if d in first} == {d: p.tolist() for d, p in first.items()}
    assert PostingsCache.WHOLE_FACTOR >= 1


def test_warming_reads_the_most_frequent_words_and_changes_no_result(tmp_path):
    """Issue 18: a web worker warms its index when it starts (``IndexHandle.warm``, from
    ``marketplace.web.serving``): the searcher is open and the commonest words' postings are in the cache, the
    first query of a worker no longer reads them, and every answer is what a cold handle gives."""
    from search.storage import IndexHandle

    _index(tmp_path)
    cold = IndexHandle(str(tmp_path / "ix"))
    warm = IndexHandle(str(tmp_path / "ix"))
    assert warm.warm() > 0
    kept = {key[1:] for key in warm._postings_cache._entries}
    assert ("title", "方法") in kept and ("title", "一种") in kept  # in most titles
    for words in (["方法"], ["方法", "装置"], ["一种", "锂电池", "方法"]):
        for snap in (cold.snapshot(), warm.snapshot()):
            assert snap.term_postings("title", words[0])[0].tolist() == cold.snapshot().term_postings("title", words[0])[0].tolist()
        assert warm.snapshot().phrase_docs(words, warm.snapshot().live.copy()).tolist() == \
            cold.snapshot().phrase_docs(words, cold.snapshot().live.copy()).tolist()


def test_warming_a_missing_index_reads_nothing_and_creates_nothing(tmp_path):
    from search.storage import IndexHandle

    assert IndexHandle(str(tmp_path / "none")).warm() == 0
    assert not (tmp_path / "none").exists()


def test_warming_stops_at_half_the_postings_cache(tmp_path):
    from search.executor import PostingsCache
    from search.storage import IndexHandle

    _index(tmp_path)
    handle = IndexHandle(str(tmp_path / "ix"))
    handle._postings_cache = cache = PostingsCache(max_bytes=12 * 400 * 4)  # a few common words' lists
    read = handle.warm()
    costs = [cost for _value, cost in cache._entries.values()]
    assert read == len(costs) >= 1
    assert sum(costs[:-1]) < cache.max_bytes // 2 <= sum(costs)  # each read while under half, none after
    assert all(cost <= cache.max_bytes // 4 for cost in costs)  # a list too long to keep is not read at all


def test_warming_is_bounded_in_time_and_leaves_an_old_index_to_the_first_search(tmp_path):
    """A worker warms before it answers anything, so warming never waits long: nothing is read after its
    time budget, and an index written by an older version (upgraded or replaced on the first search, under
    the writer lock) is not opened at all."""
    from whoosh import fields
    from whoosh import index as whoosh_index

    from search.storage import IndexHandle

    _index(tmp_path)
    assert IndexHandle(str(tmp_path / "ix")).warm(seconds=0) == 0
    old = tmp_path / "old"
    old.mkdir()
    whoosh_index.create_in(str(old), fields.Schema(lid=fields.ID(stored=True, unique=True)))
    assert IndexHandle(str(old)).warm() == 0
    assert whoosh_index.open_dir(str(old)).schema.names() == ["lid"]  # neither upgraded nor replaced
