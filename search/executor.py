"""Executing queries (issue 20 split of ``index.py``): a fast per-process executor over a searcher's arrays.

For every segment the per-document columns that filters, facets and sorting need (``schema.COLUMN_FIELDS``:
listing id, kind, patent type, grade, IPC sections, Nice classes, deal types, price mode, price, region,
published time; plus the text fields' lengths) are loaded once into numpy arrays; a query then reads the
postings of its few terms block by block and does matching, BM25 scoring, filtering, facet counting and
sorting as array operations. Phrases decode the word positions of candidate documents only. Every read of
Whoosh's own data structures goes through ``search.whoosh_reader``. Numbers in docs/performance.md.
"""
import math
import time
from collections import OrderedDict
from dataclasses import dataclass, field, fields

import numpy as np

from listings.models import DEAL_TYPES, KINDS, PATENT_TYPES, PRICE_MODES

from . import whoosh_reader
from .analysis import pair_term, split_word
from .schema import COLUMN_FIELDS, FIELD_BOOSTS, GRADES, IPC_SECTIONS, NICE_CLASSES, PRICE_UNKNOWN, REGION_CODES

BM25_K1, BM25_B = 1.2, 0.75


def _segment_arrays(segreader):
    """{column name: numpy array} for one segment, plus the text fields' lengths as '_len_<field>'."""
    schema = segreader.schema
    n = segreader.doc_count_all()
    arrays = {name: (whoosh_reader.numeric_column(segreader, name, schema[name].column_type, n) if name in schema
                     else np.full(n, COLUMN_FIELDS[name][1], dtype=np.int64))  # a column the index does not have yet
              for name in COLUMN_FIELDS}
    for name in FIELD_BOOSTS:
        arrays[f"_len_{name}"] = whoosh_reader.field_lengths(segreader, name, n)
    return arrays


class PostingsCache:
    """Decoded postings of common terms, per segment (segments never change; deletions are ``live``'s job).

    A common word's posting list spans many blocks, each zlib-compressed and pickled: reading it again for
    every query that has the word (一种, 方法, 系统, 装置 …) was most of a phrase query's time (issue 18). Terms
    in at least ``MIN_DOCS`` documents of a segment are kept (positions from the second time they are asked for),
    least recently used first out, within
    ``max_bytes`` (an estimate: 12 bytes a posting, plus the encoded positions). Entries of segments no
    longer in the index are dropped when a new searcher opens. Results are never cached, only index data.

    A word's positions are decoded whole only for a query that asks them for at least 1/``WHOLE_FACTOR`` of its
    documents: decoding is per posting, so that query pays at most ``WHOLE_FACTOR`` times what it needs. A query
    left with a few candidates reads only their blocks, through the word's block directory (kept here too), so
    no single query pays for decoding a common word's whole list (at 100,000 listings 30–60 ms for 方法,
    docs/performance.md, session 9).
    """

    MIN_DOCS = 128  # one Whoosh block: rarer terms are cheap to read
    MAX_BYTES = 32 * 1024 * 1024  # per process (each gunicorn worker has its own)
    WHOLE_FACTOR = 2  # see above
    DIRECTORY_DOCS = 2 * MIN_DOCS  # a term in more than two blocks has its block directory kept

    def __init__(self, max_bytes=MAX_BYTES):
        self.max_bytes = max_bytes
        self.bytes = 0
        self._entries = OrderedDict()  # (segment id, field, term) -> (value, cost)
        self._asked = set()  # position lists asked for once (decoded whole and kept the second time)

    def get(self, key):
        entry = self._entries.get(key)
        if entry is None:
            return None
        self._entries.move_to_end(key)
        return entry[0]

    def asked_before(self, key):
        """Whether ``key`` was asked for before (a bounded memory of keys: forgotten all at once when full)."""
        if key in self._asked:
            return True
        if len(self._asked) >= 100_000:
            self._asked.clear()
        self._asked.add(key)
        return False

    def fits(self, cost):
        """Whether an entry of ``cost`` bytes would be kept (one huge list would push out everything else)."""
        return cost <= self.max_bytes // 4

    def put(self, key, value, cost):
        if not self.fits(cost):
            return
        old = self._entries.pop(key, None)
        if old is not None:
            self.bytes -= old[1]
        self._entries[key] = (value, cost)
        self.bytes += cost
        while self.bytes > self.max_bytes:
            _key, (_value, dropped) = self._entries.popitem(last=False)
            self.bytes -= dropped

    def keep_segments(self, segment_ids):
        for key in [k for k in self._entries if k[0] not in segment_ids]:
            self.bytes -= self._entries.pop(key)[1]

    def clear(self):
        self._entries.clear()
        self._asked.clear()
        self.bytes = 0


class Snapshot:
    """A searcher plus its columns concatenated over segments (global docnum = segment offset + local)."""

    def __init__(self, searcher, segment_cache, postings_cache=None):
        self.searcher = searcher
        self.postings_cache = postings_cache if postings_cache is not None else PostingsCache()
        self.pairs = True  # every document has its word-pair fields (``storage`` says otherwise for an upgraded index)
        self.reader = searcher.reader()
        # An empty index has one EmptyReader leaf without a segment.
        leaves = [(r, off) for r, off in self.reader.leaf_readers() if r.segment() is not None]
        self.leaves = leaves
        parts, live = [], []
        keep = {}
        for segreader, _offset in leaves:
            seg = segreader.segment()
            key = seg.segment_id()
            arrays = segment_cache.get(key)
            if arrays is None:
                arrays = _segment_arrays(segreader)
            keep[key] = arrays
            parts.append(arrays)
            mask = np.ones(segreader.doc_count_all(), dtype=bool)
            deleted = list(seg.deleted_docs()) if seg.has_deletions() else []
            if deleted:
                mask[np.fromiter(deleted, dtype=np.int64)] = False
            live.append(mask)
        segment_cache.clear()
        segment_cache.update(keep)
        self.segment_ids = [segreader.segment().segment_id() for segreader, _offset in leaves]
        self.postings_cache.keep_segments(set(self.segment_ids))
        self.size = sum(segreader.doc_count_all() for segreader, _off in leaves)
        names = list(COLUMN_FIELDS) + [f"_len_{name}" for name in FIELD_BOOSTS]
        self.col = {}
        for name in names:
            if parts:
                self.col[name] = np.concatenate([p[name] for p in parts])
            else:
                self.col[name] = np.zeros(0, dtype=np.float32 if name.startswith("_len_") else np.int64)
        self.lid = self.col["listing_id"].astype(np.int64)
        self.lengths = {name: self.col[f"_len_{name}"] for name in FIELD_BOOSTS}
        self.live = np.concatenate(live) if live else np.zeros(0, dtype=bool)
        self.doc_count = int(self.live.sum())
        self.avg_length = {}
        for name in FIELD_BOOSTS:
            total = sum(r.field_length(name) for r, _off in leaves)
            self.avg_length[name] = (total / self.doc_count) if self.doc_count else 1.0
        self._closed = False

    def pairs_in_every_field(self):
        """Whether ``phrase_docs`` answers from word pairs in every text field (not positions alone)."""
        return self.pairs and all(f"{name}_pair" in self.reader.schema for name in FIELD_BOOSTS)

    def close(self):
        if not self._closed:
            self._closed = True
            try:
                self.searcher.close()
            except Exception:  # noqa: BLE001
                pass

    def term_postings(self, fieldname, text):
        """(global docnums ascending, term frequencies) of one term, read block by block (deleted docs included:
        ``live`` masks them)."""
        ids_parts, tf_parts = [], []
        for (segreader, offset), segment_id in zip(self.leaves, self.segment_ids, strict=True):
            key = (segment_id, fieldname, text)
            cached = self.postings_cache.get(key)
            if cached is None:
                cached = whoosh_reader.postings(segreader, fieldname, text)
                if len(cached[0]) >= PostingsCache.MIN_DOCS:
                    self.postings_cache.put(key, cached, 12 * len(cached[0]))
            ids, tfs = cached
            if len(ids):
                ids_parts.append(ids + offset)
                tf_parts.append(tfs)
        if not ids_parts:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        if len(ids_parts) == 1:
            return ids_parts[0], tf_parts[0]
        return np.concatenate(ids_parts), np.concatenate(tf_parts)

    def term_positions(self, fieldname, text, docs):
        """{global docnum: positions (int64 array)} of one term for the sorted global docnums ``docs``."""
        out = {}
        for offset, ids, offsets, flat in self._flat_positions(fieldname, text, docs):
            for i, doc in enumerate(ids.tolist()):
                out[doc + offset] = flat[offsets[i]:offsets[i + 1]]
        return out

    def _flat_positions(self, fieldname, text, docs):
        """Per segment holding any of the sorted global ``docs``: (offset, local ids, offsets, flat positions) of
        one term for those docs (``whoosh_reader.flatten_positions``'s shape). A common term's whole list is
        decoded once and kept in the postings cache; a rarer one's is read only in the blocks holding ``docs``."""
        for (segreader, offset), segment_id in zip(self.leaves, self.segment_ids, strict=True):
            size = segreader.doc_count_all()
            local = docs[(docs >= offset) & (docs < offset + size)] - offset
            if not len(local):
                continue
            key = (segment_id, fieldname, text)
            cached = self.postings_cache.get(key)
            frequency = segreader.doc_frequency(fieldname, text) if cached is None else 0
            # Decode the whole list only when it will be kept (about 28 bytes a posting); a list too long to keep
            # (a very common word in a very large segment) is read block by block for the docs asked, as a rare one.
            # The first time, only the blocks holding ``local`` are read (as for a rare word): a term asked once
            # is not worth decoding whole.
            if (PostingsCache.MIN_DOCS <= frequency and self.postings_cache.fits(28 * frequency)
                    and frequency <= PostingsCache.WHOLE_FACTOR * len(local)
                    and self.postings_cache.asked_before(key)):
                cached = whoosh_reader.flatten_positions(*whoosh_reader.all_positions(segreader, fieldname, text))
                self.postings_cache.put(key, cached, 8 * (2 * len(cached[0]) + len(cached[2])))
            if cached is None:
                found = whoosh_reader.positions(segreader, fieldname, text, local,
                                                self._directory(segreader, segment_id, fieldname, text, frequency))
                yield (offset, *whoosh_reader.flatten_positions(list(found), list(found.values())))
                continue
            ids, offsets, flat = cached
            if not len(ids):
                continue
            at = np.minimum(np.searchsorted(ids, local), len(ids) - 1)
            sel = at[ids[at] == local]
            starts, counts = offsets[sel], offsets[sel + 1] - offsets[sel]
            gather = np.arange(int(counts.sum()), dtype=np.int64) + np.repeat(starts - (np.cumsum(counts) - counts),
                                                                              counts)
            sub_offsets = np.zeros(len(sel) + 1, dtype=np.int64)
            np.cumsum(counts, out=sub_offsets[1:])
            yield offset, ids[sel], sub_offsets, flat[gather]

    def _directory(self, segreader, segment_id, fieldname, text, frequency):
        """The block directory of a term spanning several blocks (``whoosh_reader.block_directory``), kept in the
        postings cache (16 bytes a block); None for a term of a block or two, where there is nothing to skip."""
        if frequency < PostingsCache.DIRECTORY_DOCS:
            return None
        key = (segment_id, fieldname, text, "blocks")
        directory = self.postings_cache.get(key)
        if directory is None:
            directory = whoosh_reader.block_directory(segreader, fieldname, text)
            if directory is not None:
                self.postings_cache.put(key, directory, 16 * len(directory[1]))
        return directory

    def _start_keys(self, fieldname, text, shift, docs):
        """Sorted int64 keys ``doc << 24 | start`` of the phrase starts (position - ``shift``) this word allows
        in ``docs`` (positions below ``shift`` allow none)."""
        parts = []
        for offset, ids, offsets, flat in self._flat_positions(fieldname, text, docs):
            doc = np.repeat(ids + offset, offsets[1:] - offsets[:-1])
            start = flat - shift
            keep = (start >= 0) & (start < (1 << 24))
            parts.append((doc[keep] << 24) | start[keep])
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    def phrase_docs(self, words, candidates, by_field=None):
        """Boolean mask: candidate docs where ``words`` occur at consecutive positions in one text field.

        ``by_field`` ({field name: mask}, optional): the candidates of each field, i.e. those holding every word
        in that field (the caller knows it from the words' postings); a field without one is not read at all.
        First the field's word pairs (``<field>_pair``, one term per two consecutive words) narrow the
        candidates: that answers a two-word phrase. For a longer one, positions are then read rarest word
        first, each word only for the docs the previous ones left.
        """
        found = np.zeros(self.size, dtype=bool)
        for name in FIELD_BOOSTS:
            allowed = candidates if by_field is None else by_field[name] & candidates
            if by_field is not None and not allowed.any():
                continue
            if len(words) > 1 and self.pairs and f"{name}_pair" in self.reader.schema:
                # Every two consecutive words as one term: a two-word phrase is answered here; a longer one
                # keeps only the docs holding all its pairs for the position check below (issue 18). The first
                # pair's postings (sorted, unique) are looked up in the candidate mask: no sort of the candidates.
                docs = None
                for first, second in zip(words, words[1:], strict=False):
                    ids = self.term_postings(f"{name}_pair", pair_term(first, second))[0]
                    docs = ids[allowed[ids]] if docs is None else np.intersect1d(docs, ids, assume_unique=True)
                    if not len(docs):
                        break
                if len(words) == 2:
                    found[docs] = True
                    continue
            else:
                docs = np.nonzero(allowed)[0]
            if not len(docs):
                continue
            field = f"{name}_pos"
            order = sorted(range(len(words)), key=lambda k, f=field: self.reader.doc_frequency(f, words[k]))
            # Where the phrase could start (doc, position) as sorted keys, narrowed word by word, so a later
            # (commoner) word's positions are looked at only for the docs the earlier ones left.
            keys, remaining = None, docs
            for k in order:
                allowed = self._start_keys(field, words[k], k, remaining)
                keys = allowed if keys is None else np.intersect1d(keys, allowed, assume_unique=True)
                remaining = np.unique(keys >> 24)
                if not len(remaining):
                    break
            if len(remaining):
                found[remaining] = True
        return found



@dataclass
class Clause:
    """One required part of a query: a word, a phrase (several words in order) or a number key.

    ``exact``: the person quoted it (never expanded). ``loose``: several words that must all occur, in any
    order (a multi-word glossary term such as "lithium battery"). ``alternatives``: other word sequences that
    satisfy the clause too (synonyms and translations, ``search.synonyms``; each matched as a phrase), ranked
    below the clause's own words. ``text``: what the person typed for it (for messages).
    """

    words: list
    phrase: bool = False
    number: bool = False
    exact: bool = False
    loose: bool = False
    alternatives: list = field(default_factory=list)
    text: str = None


@dataclass
class Filters:
    """The search filters, as the request gives them and as the index applies them (API values)."""

    kind: str = None
    grade: tuple = ()
    patent_type: str = None
    ipc: str = None  # normalised: 'h', 'h01', 'h01m', 'h01m4/36'
    nice_class: int = None
    deal_type: str = None
    price_mode: str = None
    price_min: int = None
    price_max: int = None
    region: str = None
    open_licence: str = None  # "1": only listings under an open licence (issue 16)

    def filter_values(self):
        """{name: value} of every filter field (for handing them on)."""
        return {f.name: getattr(self, f.name) for f in fields(Filters)}


@dataclass
class IndexQuery(Filters):
    clauses: list = field(default_factory=list)
    restrict_ids: tuple = None  # only these listing ids (saved-search matching)
    match_any: bool = False  # partial matching: any clause, more clauses first


@dataclass
class IndexResult:
    total: int
    ids: list  # listing ids in order, a window from ``offset``
    scores: dict
    facets: dict


SORTS = ("relevance", "price_asc", "price_desc", "newest", "grade", "ending_soon")


def _idf(df, n):
    return math.log(1.0 + (n - df + 0.5) / (df + 0.5))


MAX_VARIANTS = 8


def clause_variants(clause):
    """The word sequences that satisfy a text clause: the words as cut, and with long words in their finer cut.

    A single word w becomes [w] or [finer cut of w as a phrase]; a phrase expands each of its words the
    same way (at most MAX_VARIANTS sequences).
    """
    variants = [[]]
    for word in clause.words:
        parts = split_word(word)
        options = [[word]] + ([list(parts)] if parts else [])
        variants = [v + o for v in variants for o in options][:MAX_VARIANTS]
    return variants


EXACT_BONUS = 1000.0  # a clause matched by its own words outranks one matched only through a synonym
SYNONYM_WEIGHT = 0.5  # BM25 weight of an alternative's words
COORDINATION_BONUS = 10_000.0  # partial matching: each clause a document satisfies


def _clause_match(snap, clause, scores, within=None):
    """Boolean mask of the docs matching ``clause``; adds its BM25 contribution to ``scores``.

    ``within`` (a mask, optional): the caller keeps only documents in ``within`` that match this clause (the
    filters and the clauses before, every clause ANDed), so BM25 is added only there: scores elsewhere would
    never be read (issue 18). A clause with alternatives scores its own words wherever they are (a document
    found through a synonym keeps what its own words add), as without ``within``.
    """
    n = snap.size
    if clause.number:
        mask = np.zeros(n, dtype=bool)
        for key in clause.words:
            ids, _tf = snap.term_postings("numbers", key)
            mask[ids] = True
        if scores is not None:
            scores[mask] += 10.0  # an exact number is the strongest signal there is
        return mask
    own_within = None if clause.alternatives else within
    if clause.loose:
        mask = snap.live.copy()
        for word in clause.words:
            mask &= _words_match(snap, Clause([word]), scores, 1.0, own_within)
    else:
        mask = _words_match(snap, clause, scores, 1.0, own_within)
    if clause.alternatives:
        if scores is not None:
            scores[mask] += EXACT_BONUS
        for words in clause.alternatives:
            mask |= _words_match(snap, Clause(list(words), phrase=len(words) > 1), scores, SYNONYM_WEIGHT)
    return mask


def _words_match(snap, clause, scores, weight, within=None):
    """Mask of the docs holding ``clause``'s words (as a phrase when it has several), BM25 times ``weight``
    (``within``: added only to the matching docs in that mask; else to every doc holding a word)."""
    n = snap.size
    variants = clause_variants(clause) if (clause.phrase or len(clause.words) == 1) else [clause.words]
    word_masks, postings = {}, {}

    def in_field(name, word):  # docs holding ``word`` in the field ``name``
        field_mask = np.zeros(n, dtype=bool)
        field_mask[postings[(name, word)][0]] = True
        return field_mask

    for word in dict.fromkeys(w for v in variants for w in v):
        word_mask = np.zeros(n, dtype=bool)
        for name in FIELD_BOOSTS:
            postings[(name, word)] = snap.term_postings(name, word)
            word_mask[postings[(name, word)][0]] = True
        word_masks[word] = word_mask
    mask = np.zeros(n, dtype=bool)
    for words in sorted(variants, key=len):  # single terms first: what they match needs no position check
        candidates = np.logical_and.reduce([word_masks[w] for w in words]) & snap.live
        if len(words) > 1:
            candidates &= ~mask
            if candidates.any():
                # Every word is there; now their positions must follow each other, in a field holding them all.
                # With word pairs in every field a pair's postings already say "in one field": no field masks.
                by_field = None if snap.pairs_in_every_field() else {
                    name: np.logical_and.reduce([in_field(name, w) for w in words]) for name in FIELD_BOOSTS}
                candidates &= snap.phrase_docs(words, candidates, by_field)
        mask |= candidates
    if scores is not None:
        # After matching, so that a phrase of common words scores its few matches, not every doc holding a word
        # (at 100k, 一种 is in most documents). Per document the same sums in the same order as before.
        scope = None if within is None else mask & within
        for word, word_mask in word_masks.items():
            idf = weight * _idf(int(np.count_nonzero(word_mask & snap.live)), max(snap.doc_count, 1))
            for name in FIELD_BOOSTS:
                ids, tf = postings[(name, word)]
                if scope is not None and len(ids):
                    keep = scope[ids]
                    ids, tf = ids[keep], tf[keep]
                if len(ids):
                    norm = BM25_K1 * (1 - BM25_B + BM25_B * snap.lengths[name][ids] / snap.avg_length[name])
                    scores[ids] += FIELD_BOOSTS[name] * idf * tf * (BM25_K1 + 1) / (tf + norm)
    return mask


def _filter_mask(snap, iq):
    col = snap.col
    mask = snap.live.copy()
    if iq.kind:
        mask &= col["kind"] == KINDS.index(iq.kind)
    if iq.grade:
        mask &= np.isin(col["grade"], [GRADES.index(g) + 1 for g in iq.grade])
    if iq.deal_type:
        mask &= (col["deal_type"] & (1 << DEAL_TYPES.index(iq.deal_type))) != 0
    if iq.price_mode:
        mask &= col["price_mode"] == PRICE_MODES.index(iq.price_mode)
    if iq.patent_type:
        mask &= (col["patent_type"] & (1 << PATENT_TYPES.index(iq.patent_type))) != 0
    if iq.region:
        mask &= col["region"] == REGION_CODES.index(iq.region)
    if iq.open_licence:
        mask &= col["open_licence"] == 1
    if iq.nice_class:
        mask &= (col["nice_class"] & np.uint64(1 << (iq.nice_class - 1))) != 0
    price = _price_column(snap, iq.deal_type)
    if iq.price_min is not None:
        mask &= price >= iq.price_min
    if iq.price_max is not None:
        mask &= (price >= 0) & (price <= iq.price_max)
    if iq.ipc:
        ids, _tf = snap.term_postings("ipc", iq.ipc)
        ipc_mask = np.zeros(snap.size, dtype=bool)
        ipc_mask[ids] = True
        mask &= ipc_mask
    if iq.restrict_ids is not None:
        mask &= np.isin(snap.lid, np.fromiter(iq.restrict_ids, dtype=np.int64))
    return mask


def _price_column(snap, deal_type):
    """The price filtered and sorted by: with a deal type chosen, each listing's price for that deal type
    (``price_<deal type>``; a document written before those columns reads its listing's price)."""
    if not deal_type:
        return snap.col["price"]
    own = snap.col[f"price_{deal_type}"]
    return np.where(own == PRICE_UNKNOWN, snap.col["price"], own)


def _mask_counts(values, vocabulary):
    """{value: how many of ``values`` have its bit} (masks with few distinct values: count those first)."""
    distinct, counts = np.unique(values[values != 0], return_counts=True)
    totals = [0] * len(vocabulary)
    for value, count in zip(distinct.tolist(), counts.tolist(), strict=True):
        while value:
            low = value & -value
            totals[low.bit_length() - 1] += count
            value ^= low
    return {str(v): c for v, c in zip(vocabulary, totals, strict=True) if c}


def _facets(snap, docs):
    col = snap.col
    kinds = np.bincount(col["kind"][docs], minlength=len(KINDS))
    grades = np.bincount(col["grade"][docs], minlength=len(GRADES) + 1)
    return {
        "kind": {k: int(kinds[i]) for i, k in enumerate(KINDS) if kinds[i]},
        "grade": {g: int(grades[i + 1]) for i, g in enumerate(GRADES) if grades[i + 1]},
        "nice_class": _mask_counts(col["nice_class"][docs], NICE_CLASSES),
        "ipc_section": _mask_counts(col["ipc_section"][docs], IPC_SECTIONS),
        "deal_type": _mask_counts(col["deal_type"][docs], DEAL_TYPES),
    }


def _order(snap, docs, scores, sort, want, deal_type=None):
    """The first ``want`` docs of ``docs`` in the requested order (ties: newest, then highest id); by price:
    the price of ``deal_type`` when one is chosen."""
    if not len(docs):
        return docs
    published = snap.col["published"][docs]
    lid = snap.lid[docs]
    if sort in ("price_asc", "price_desc"):
        price = _price_column(snap, deal_type)[docs].astype(np.float64)
        primary = np.where(price < 0, np.inf, price if sort == "price_asc" else -price)
    elif sort == "newest":
        primary = -published.astype(np.float64)
    elif sort == "ending_soon":
        # Running auctions, the nearest close first; then everything else (closed auctions too), newest first.
        ends = snap.col["ends"][docs].astype(np.float64)
        primary = np.where(ends > time.time(), ends, np.inf)
    elif sort == "grade":
        grade = snap.col["grade"][docs].astype(np.float64)
        grade[grade == 0] = 9  # ungraded last
        if scores is not None:  # within a grade, the best match first
            return _top(docs, (-lid, -published, -scores[docs], grade), want)
        primary = grade
    else:  # relevance
        primary = -scores[docs] if scores is not None else -published.astype(np.float64)
    return _top(docs, (-lid, -published, primary), want)


def _top(docs, keys, want):
    """``np.lexsort`` (last key primary), on a partition of the primary key when that is cheaper."""
    primary = keys[-1]
    if want < len(docs) // 4:
        # Everything at or better than the want-th primary value (ties included), then an exact sort.
        kth = np.partition(primary, want - 1)[want - 1]
        sel = np.nonzero(primary <= kth)[0]
        docs = docs[sel]
        keys = tuple(k[sel] for k in keys)
    order = np.lexsort(keys)
    return docs[order[:want]]


def query_index(handle, iq, sort="relevance", offset=0, limit=20, facets=True):
    """Run ``iq`` against the index: total, listing ids from ``offset`` (``limit`` of them), facet counts."""
    with handle._lock:
        snap = handle.snapshot()
        if snap.size == 0:
            return IndexResult(total=0, ids=[], scores={}, facets=_empty_facets() if facets else {})
        mask = _filter_mask(snap, iq)
        scores = None
        if iq.clauses and iq.match_any:
            # Partial matching: any clause will do; documents satisfying more clauses come first.
            scores = np.zeros(snap.size, dtype=np.float32) if sort in ("relevance", "grade") else None
            found = np.zeros(snap.size, dtype=bool)
            for clause in iq.clauses:
                clause_mask = _clause_match(snap, clause, scores)
                if scores is not None:
                    scores[clause_mask] += COORDINATION_BONUS
                found |= clause_mask
            mask &= found
        elif iq.clauses:
            scores = np.zeros(snap.size, dtype=np.float32) if sort in ("relevance", "grade") else None
            for clause in sorted(iq.clauses, key=lambda c: not c.number):
                mask &= _clause_match(snap, clause, scores, within=mask)
                if not mask.any():
                    break
        docs = np.nonzero(mask)[0]
        total = int(len(docs))
        ordered = _order(snap, docs, scores, sort, offset + limit, iq.deal_type)[offset:offset + limit] if total > offset else docs[:0]
        return IndexResult(
            total=total,
            ids=[int(x) for x in snap.lid[ordered]],
            scores={int(snap.lid[d]): float(scores[d]) for d in ordered} if scores is not None else {},
            facets=_facets(snap, docs) if facets else {},
        )


def _empty_facets():
    return {"kind": {}, "grade": {}, "nice_class": {}, "ipc_section": {}, "deal_type": {}}

