"""The Whoosh index: schema, documents, writes, and a fast per-process query executor.

Hidden behind a few functions (``add_to_index``, ``remove_from_index``, ``query_index``)
as in microblog. The index folder is ``app.config["SEARCH_INDEX_PATH"]``.

Writes take Whoosh's file lock with a timeout (several gunicorn workers share one
folder); a write that cannot get the lock raises :class:`IndexBusy` and the caller
(the outbox drain) leaves its rows for the next attempt, so a user's request never
fails because of the index.

Reads: each process keeps one long-lived searcher per index folder and reopens it
only when another writer has committed a new generation. For every segment the
per-document columns that filters, facets and sorting need (``COLUMN_FIELDS``: listing
id, kind, patent type, grade, IPC sections, Nice classes, deal types, price mode, price,
region, published time; plus the text fields' lengths) are loaded once into numpy
arrays; a query then reads the postings of its few terms block by block (Whoosh's W3
blocks, decoded with numpy, not posting by posting) and does matching, BM25 scoring,
filtering, facet counting and sorting as array operations. Phrases decode the word
positions of candidate documents only. Numbers in docs/performance.md.
"""
import logging
import math
import os
import shutil
import threading
import time
from dataclasses import dataclass, field, fields
from datetime import timezone

import numpy as np
from whoosh import columns, formats
from whoosh import index as whoosh_index
from whoosh.fields import COLUMN, ID, KEYWORD, TEXT, FieldType, Schema
from whoosh.index import LockError
from whoosh.util.numeric import _length_byte_cache
from whoosh.writing import CLEAR

from listings.models import DEAL_TYPES, KINDS, PATENT_TYPES, PRICE_MODES
from marketplace.regions import REGIONS

from .analysis import ChineseEnglishAnalyzer, number_variants, split_word

log = logging.getLogger(__name__)

GRADES = ("A", "B", "C", "D")
IPC_SECTIONS = tuple("ABCDEFGH")
NICE_CLASSES = tuple(range(1, 46))
REGION_CODES = tuple(REGIONS)

FIELD_BOOSTS = {"title": 3.0, "body": 1.0}
BM25_K1, BM25_B = 1.2, 0.75

# Facet, filter and sort fields are Whoosh columns (one fixed-size value per document), read in bulk
# into numpy arrays: code = index in its vocabulary (0 = none for grade), mask = one bit per value.
COLUMN_FIELDS = {
    # name: (struct typecode, default)
    "listing_id": ("q", 0),
    "kind": ("b", 0),  # code in KINDS
    "patent_type": ("b", 0),  # mask over PATENT_TYPES
    "grade": ("b", 0),  # 0 ungraded, 1..4 = A..D
    "ipc_section": ("H", 0),  # mask over A..H
    "nice_class": ("Q", 0),  # mask over classes 1..45 (bit 0 = class 1)
    "deal_type": ("b", 0),  # mask over DEAL_TYPES
    "price_mode": ("b", 0),  # code in PRICE_MODES
    "price": ("q", -1),  # fen; -1 = no price (面议)
    "region": ("b", 0),  # code in REGION_CODES
    "published": ("q", 0),  # epoch seconds
    "ends": ("q", 0),  # an auction's close, epoch seconds; 0 = not an auction (an older index: 0 everywhere)
    "open_licence": ("b", 0),  # 1: an open licence (专利开放许可) is declared on the listing (issue 16)
}


def build_schema():
    """Text is indexed twice: ``title``/``body`` with frequencies only (what matching and BM25 read, in
    compact blocks) and ``title_pos``/``body_pos`` with word positions (read only for phrases)."""
    analyzer = ChineseEnglishAnalyzer()
    fields = {
        "lid": ID(unique=True, stored=True),
        "title": TEXT(analyzer=analyzer, phrase=False),
        "body": TEXT(analyzer=analyzer, phrase=False),
        "title_pos": FieldType(formats.Positions(), analyzer, scorable=False),
        "body_pos": FieldType(formats.Positions(), analyzer, scorable=False),
        "numbers": KEYWORD(lowercase=True),
        "ipc": KEYWORD(lowercase=True),  # section, class, subclass and group terms: h, h01, h01m, h01m4/36
    }
    for name, (typecode, default) in COLUMN_FIELDS.items():
        fields[name] = COLUMN(columns.NumericColumn(typecode, default=default))
    return Schema(**fields)


def _mask(values, vocabulary):
    out = 0
    for value in values:
        out |= 1 << vocabulary.index(value)
    return out


class IndexBusy(Exception):
    """Another process holds the index writer lock (or the index cannot be written now)."""


# --- documents --------------------------------------------------------------

def _ipc_terms(code):
    """'H01M 4/36' -> ['h', 'h01', 'h01m', 'h01m4/36']."""
    compact = "".join((code or "").split()).upper()
    if not compact or compact[0] not in IPC_SECTIONS:
        return []
    terms = [compact[:1]]
    if len(compact) >= 3:
        terms.append(compact[:3])
    if len(compact) >= 4:
        terms.append(compact[:4])
    if len(compact) > 4:
        terms.append(compact)
    return [t.lower() for t in terms]


def normalise_ipc(value):
    """A filter value for ``ipc``: section 'H', class 'H01', subclass 'H01M' or group 'H01M 4/36'; None if malformed."""
    import re

    compact = "".join((value or "").split()).upper()
    if re.fullmatch(r"[A-H](\d\d([A-Z](\d{1,4}/\d{1,6})?)?)?", compact):
        return compact.lower()
    return None


def listing_price(listing):
    """The price shown and sorted by: fixed/negotiable price, or the auction's current (else start) price."""
    if listing.price_mode == "auction" and listing.auction is not None:
        return listing.auction.current_price or listing.auction.start_price
    return listing.price


def _epoch(value):
    if value is None:
        return 0
    return int(value.replace(tzinfo=timezone.utc).timestamp())


def listing_document(listing):
    """The index document of a (published) listing."""
    rights = list(listing.rights)
    body = [listing.description or ""]
    numbers, ipc, sections, nice, ptypes = [], [], set(), set(), set()
    for right in rights:
        if right.title and right.title != listing.title:
            body.append(right.title)
        body.extend(filter(None, [right.abstract]))
        body.extend(right.goods or [])
        numbers.extend(number_variants(right.number, right.kind))
        for code in right.ipc_codes or []:
            terms = _ipc_terms(code)
            ipc.extend(terms)
            if terms:
                sections.add(terms[0].upper())
        for cls in right.nice_classes or []:
            try:
                cls = int(cls)
            except (TypeError, ValueError):
                continue
            if 1 <= cls <= 45:
                nice.add(cls)
        if right.patent_type in PATENT_TYPES:
            ptypes.add(right.patent_type)
        body.extend(right.holder_names)  # 权利人: the holder's name finds the listing
    if listing.organization is not None:
        body.append(listing.organization.name)
    deal_types = [d for d in (listing.deal_types or []) if d in DEAL_TYPES]
    grade = listing.grade if listing.grade in GRADES else None
    price = listing_price(listing)
    region = listing.region if listing.region in REGION_CODES else "other"
    return {
        "lid": str(listing.id),
        "title": listing.title or "",
        "title_pos": listing.title or "",
        "body": "\n".join(body),
        "body_pos": "\n".join(body),
        "numbers": " ".join(dict.fromkeys(numbers)),
        "ipc": " ".join(dict.fromkeys(ipc)),
        "listing_id": int(listing.id),
        "kind": KINDS.index(listing.kind) if listing.kind in KINDS else 0,
        "patent_type": _mask(ptypes, PATENT_TYPES),
        "grade": GRADES.index(grade) + 1 if grade else 0,
        "ipc_section": _mask(sections, IPC_SECTIONS),
        "nice_class": _mask(nice, NICE_CLASSES),
        "deal_type": _mask(deal_types, DEAL_TYPES),
        "price_mode": PRICE_MODES.index(listing.price_mode) if listing.price_mode in PRICE_MODES else 0,
        "price": int(price) if price is not None else -1,
        "region": REGION_CODES.index(region),
        "published": _epoch(listing.published_at),
        "ends": _epoch(listing.auction.ends_at) if listing.price_mode == "auction" and listing.auction else 0,
        "open_licence": 1 if _open_licence(listing) else 0,
    }


def _open_licence(listing):
    from listings.open_licence import is_open

    return listing.kind == "patent" and is_open(listing)


def is_searchable(listing):
    """Only published listings are searchable (docs/design.md)."""
    return listing is not None and listing.status == "published"


# --- the index on disk --------------------------------------------------------

class IndexHandle:
    """One index folder in this process: opening, writing, and the long-lived searcher."""

    def __init__(self, path):
        self.path = path
        self._ix = None
        self._snapshot = None
        self._lock = threading.RLock()
        self._segment_cache = {}

    # opening
    def open(self, create=True):
        with self._lock:
            if self._ix is not None and os.path.isdir(self.path):
                return self._ix
            self._reset()
            if os.path.isdir(self.path) and whoosh_index.exists_in(self.path):
                self._ix = whoosh_index.open_dir(self.path)
                if set(self._ix.schema.names()) != set(build_schema().names()) and not self._add_columns():
                    # Written by an older version: start empty; `flask search reindex` fills it again.
                    log.error("search index at %s has an old schema; replaced by an empty one: run "
                              "`flask search reindex`", self.path)
                    self._ix = whoosh_index.create_in(self.path, build_schema())
                    for name in os.listdir(self.path):
                        if name.startswith("outbox_position"):
                            os.unlink(os.path.join(self.path, name))
            elif create:
                os.makedirs(self.path, exist_ok=True)
                try:
                    self._ix = whoosh_index.create_in(self.path, build_schema())
                except LockError:  # another process is creating it right now
                    self._ix = whoosh_index.open_dir(self.path)
            return self._ix

    def _add_columns(self):
        """An index that lacks only new column fields (e.g. ``ends``, issue 18) gets them added in place: its
        documents read the column's default until they are written again (the outbox or a reindex). Any
        other schema difference returns False (the caller starts an empty index)."""
        old, new = self._ix.schema, build_schema()
        missing = [name for name in new.names() if name not in old]
        if any(name not in new for name in old.names()) or not all(isinstance(new[n], COLUMN) for n in missing):
            return False
        try:
            writer = self._ix.writer(timeout=10.0, delay=0.05)
        except LockError:
            log.warning("search index at %s lacks columns %s and is locked; searching without them", self.path,
                        missing)
            return True
        try:
            for name in missing:
                writer.add_field(name, new[name])
            writer.commit()
        except BaseException:
            writer.cancel()
            raise
        log.info("search index at %s: added columns %s", self.path, missing)
        self._ix = whoosh_index.open_dir(self.path)
        return True

    def _reset(self):
        if self._snapshot is not None:
            self._snapshot.close()
        self._snapshot = None
        self._ix = None
        self._segment_cache.clear()

    # writing
    def writer(self, timeout, **kwargs):
        """A writer holding the index lock, or IndexBusy after ``timeout`` seconds."""
        ix = self.open()
        try:
            return ix.writer(timeout=timeout, delay=0.05, **kwargs)
        except LockError as exc:
            raise IndexBusy(str(exc)) from exc

    def rebuild(self, documents, timeout=60.0, progress=None):
        """Replace the whole index with ``documents`` (an iterable of dicts) in one commit."""
        writer = self.writer(timeout, limitmb=256)
        try:
            count = 0
            for doc in documents:
                writer.add_document(**doc)
                count += 1
                if progress:
                    progress(1)
            writer.commit(mergetype=CLEAR, optimize=True)
        except BaseException:
            writer.cancel()
            raise
        return count

    def destroy(self):
        with self._lock:
            self._reset()
            shutil.rmtree(self.path, ignore_errors=True)

    # reading
    def snapshot(self):
        """The current searcher with its column arrays; reopened only when the index changed."""
        with self._lock:
            if not os.path.isdir(self.path):
                self._reset()
            ix = self.open()
            snap = self._snapshot
            if snap is not None:
                try:
                    # Not ``searcher.up_to_date()``: a one-segment reader (after ``rebuild``, optimised)
                    # reports no generation, so that said "changed" on every query and every query paid
                    # for a new searcher (issue 18, the HTTP floor). The generation is noted at opening.
                    if ix.latest_generation() == snap.generation:
                        return snap
                except Exception:  # noqa: BLE001 - files replaced under us: reopen below
                    log.info("search index changed on disk; reopening", exc_info=True)
            # A new searcher (Whoosh's refresh() cannot reuse segment readers anyway); the column
            # arrays of unchanged segments come from the cache. The generation is read first: a commit
            # in between makes the next query reopen once more, never keeps an old searcher.
            generation = ix.latest_generation()
            new = Snapshot(ix.searcher(), self._segment_cache)
            new.generation = generation
            if snap is not None:
                snap.close()
            self._snapshot = new
            return new


_handles = {}
_handles_lock = threading.Lock()


def handle_for(path):
    path = os.path.abspath(path)
    with _handles_lock:
        if path not in _handles:
            _handles[path] = IndexHandle(path)
        return _handles[path]


def current_handle():
    from flask import current_app

    return handle_for(current_app.config["SEARCH_INDEX_PATH"])


def add_to_index(writer, listing):
    """Add or replace ``listing`` in the index (inside an open writer)."""
    writer.update_document(**listing_document(listing))


def remove_from_index(writer, listing_id):
    writer.delete_by_term("lid", str(listing_id))


# --- executing queries --------------------------------------------------------

_LENGTHS = np.array(list(_length_byte_cache), dtype=np.float32)


def _read_numeric_column(segreader, fieldname, coltype, doccount):
    """A NumericColumn of one segment as a numpy array, read in one go."""
    perdoc = segreader._perdoc
    dtype = np.dtype(coltype._typecode).newbyteorder(">")
    out = np.full(doccount, coltype._default, dtype=dtype.newbyteorder("="))
    if not perdoc.has_column(fieldname):
        return out
    reader = perdoc.column_reader(fieldname, coltype)
    count = min(getattr(reader, "_count", doccount), doccount)
    try:
        raw = reader._dbfile.get(reader._basepos, count * dtype.itemsize)
        out[:count] = np.frombuffer(raw, dtype=dtype, count=count)
    except AttributeError:  # a different column implementation: read value by value
        out[:] = [reader[i] for i in range(doccount)]
    return out


def _segment_arrays(segreader):
    """{column name: numpy array} for one segment, plus the text fields' lengths as '_len_<field>'."""
    from whoosh.codec.whoosh3 import LENGTHS_COLUMN

    schema = segreader.schema
    n = segreader.doc_count_all()
    arrays = {name: (_read_numeric_column(segreader, name, schema[name].column_type, n) if name in schema
                     else np.full(n, COLUMN_FIELDS[name][1], dtype=np.int64))  # a column the index does not have yet
              for name in COLUMN_FIELDS}
    for name in FIELD_BOOSTS:
        raw = _read_numeric_column(segreader, f"_{name}_len", LENGTHS_COLUMN, n)
        arrays[f"_len_{name}"] = _LENGTHS[raw.astype(np.int64)]
    return arrays


class Snapshot:
    """A searcher plus its columns concatenated over segments (global docnum = segment offset + local)."""

    def __init__(self, searcher, segment_cache):
        self.searcher = searcher
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

    def close(self):
        if not self._closed:
            self._closed = True
            try:
                self.searcher.close()
            except Exception:  # noqa: BLE001
                pass

    def term_postings(self, fieldname, text):
        """(global docnums ascending, term frequencies) of one term, read block by block."""
        ids_parts, tf_parts = [], []
        for segreader, offset in self.leaves:
            matcher = self._matcher(segreader, fieldname, text)
            if matcher is None:
                continue
            ids, tfs = _read_blocks(matcher)
            if len(ids):
                ids_parts.append(ids + offset)
                tf_parts.append(tfs)
        if not ids_parts:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        return np.concatenate(ids_parts), np.concatenate(tf_parts)

    def _matcher(self, segreader, fieldname, text):
        """The raw block matcher of one term in one segment (deletions are masked by ``live``), or None."""
        try:
            if (fieldname, text) not in segreader:
                return None
            matcher = segreader.postings(fieldname, text)
        except Exception:  # noqa: BLE001 - TermNotFound and friends
            return None
        if hasattr(matcher, "child"):
            # The deletion filter has already stepped its child past leading deleted postings: restart it.
            matcher = matcher.child
            matcher.reset()
        return matcher

    def term_positions(self, fieldname, text, docs):
        """{global docnum: encoded positions} of one term for the sorted global docnums ``docs``.

        Blocks whose id range holds none of ``docs`` are skipped unread (their header gives the
        last id), so a rare companion word keeps a common word's positions cheap.
        """
        out = {}
        for segreader, offset in self.leaves:
            size = segreader.doc_count_all()
            local = docs[(docs >= offset) & (docs < offset + size)] - offset
            if not len(local):
                continue
            matcher = self._matcher(segreader, fieldname, text)
            if matcher is None:
                continue
            fast = all(hasattr(matcher, a) for a in ("_maxid", "_read_data", "_read_values", "_next_block"))
            last = -1
            while matcher.is_active():
                if fast:
                    first = np.searchsorted(local, last, side="right")
                    last = matcher._maxid
                    if first < len(local) and local[first] <= last:
                        if matcher._data is None:
                            matcher._read_data()
                        ids = np.cumsum(np.asarray(matcher._data[0], dtype=np.int64))
                        matcher._read_values()
                        values = matcher._values
                        at = np.minimum(np.searchsorted(local, ids), len(local) - 1)
                        for i in np.nonzero(local[at] == ids)[0].tolist():
                            out[int(ids[i]) + offset] = values[i]
                    matcher._next_block()
                else:
                    if matcher.id() in set(local.tolist()):
                        out[matcher.id() + offset] = matcher.value()
                    matcher.next()
        return out

    def phrase_docs(self, words, candidates):
        """Boolean mask: candidate docs where ``words`` occur at consecutive positions in one text field.

        Positions are read rarest word first, each word only for the docs the previous ones left.
        """
        found = np.zeros(self.size, dtype=bool)
        docs = np.nonzero(candidates)[0]
        if not len(docs):
            return found
        for name in FIELD_BOOSTS:
            field = f"{name}_pos"
            decode = self.reader.schema[field].format.decode_positions
            order = sorted(range(len(words)), key=lambda k, f=field: self.reader.doc_frequency(f, words[k]))
            by_offset, remaining = {}, docs
            for k in order:
                by_offset[k] = self.term_positions(field, words[k], remaining)
                remaining = np.array(sorted(by_offset[k]), dtype=np.int64)
                if not len(remaining):
                    break
            for doc in remaining.tolist():
                starts = None
                for k in order:
                    shifted = {p - k for p in decode(by_offset[k][doc])}
                    starts = shifted if starts is None else starts & shifted
                    if not starts:
                        break
                if starts:
                    found[doc] = True
        return found


def _read_blocks(matcher):
    """All (ids, frequencies) of a posting list.

    Fast path for Whoosh's W3 block matcher: each block's data tuple is decoded with numpy
    (ids are stored as deltas) instead of id by id.
    """
    ids, tfs = [], []
    fast = all(hasattr(matcher, a) for a in ("_read_data", "_data", "_byteids", "_next_block", "_blocklength"))
    if fast and not matcher._byteids:
        while matcher.is_active():
            if matcher._data is None:
                matcher._read_data()
            raw_ids, raw_weights = matcher._data[0], matcher._data[1]
            n = matcher._blocklength
            ids.append(np.cumsum(np.asarray(raw_ids, dtype=np.int64)))
            if raw_weights is None:
                tfs.append(np.ones(n, dtype=np.float32))
            elif isinstance(raw_weights, float):
                tfs.append(np.full(n, raw_weights, dtype=np.float32))
            else:
                tfs.append(np.asarray(raw_weights, dtype=np.float32))
            matcher._next_block()
        if not ids:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        return np.concatenate(ids), np.concatenate(tfs)
    pairs = []
    while matcher.is_active():
        pairs.append((matcher.id(), matcher.weight()))
        matcher.next()
    if not pairs:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    arr = np.array(pairs, dtype=np.float64)
    return arr[:, 0].astype(np.int64), arr[:, 1].astype(np.float32)


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


def _clause_match(snap, clause, scores):
    """Boolean mask of the docs matching ``clause``; adds its BM25 contribution to ``scores``."""
    n = snap.size
    if clause.number:
        mask = np.zeros(n, dtype=bool)
        for key in clause.words:
            ids, _tf = snap.term_postings("numbers", key)
            mask[ids] = True
        if scores is not None:
            scores[mask] += 10.0  # an exact number is the strongest signal there is
        return mask
    if clause.loose:
        mask = snap.live.copy()
        for word in clause.words:
            mask &= _words_match(snap, Clause([word]), scores, 1.0)
    else:
        mask = _words_match(snap, clause, scores, 1.0)
    if clause.alternatives:
        if scores is not None:
            scores[mask] += EXACT_BONUS
        for words in clause.alternatives:
            mask |= _words_match(snap, Clause(list(words), phrase=len(words) > 1), scores, SYNONYM_WEIGHT)
    return mask


def _words_match(snap, clause, scores, weight):
    """Mask of the docs holding ``clause``'s words (as a phrase when it has several), BM25 times ``weight``."""
    n = snap.size
    variants = clause_variants(clause) if (clause.phrase or len(clause.words) == 1) else [clause.words]
    word_masks, postings = {}, {}
    for word in dict.fromkeys(w for v in variants for w in v):
        word_mask = np.zeros(n, dtype=bool)
        for name in FIELD_BOOSTS:
            postings[(name, word)] = snap.term_postings(name, word)
            word_mask[postings[(name, word)][0]] = True
        word_masks[word] = word_mask
        if scores is not None:
            idf = weight * _idf(int(np.count_nonzero(word_mask & snap.live)), max(snap.doc_count, 1))
            for name in FIELD_BOOSTS:
                ids, tf = postings[(name, word)]
                if len(ids):
                    norm = BM25_K1 * (1 - BM25_B + BM25_B * snap.lengths[name][ids] / snap.avg_length[name])
                    scores[ids] += FIELD_BOOSTS[name] * idf * tf * (BM25_K1 + 1) / (tf + norm)
    mask = np.zeros(n, dtype=bool)
    for words in sorted(variants, key=len):  # single terms first: what they match needs no position check
        candidates = np.logical_and.reduce([word_masks[w] for w in words]) & snap.live
        if len(words) > 1:
            candidates &= ~mask
            if candidates.any():
                # Every word is there; now their positions must follow each other.
                candidates &= snap.phrase_docs(words, candidates)
        mask |= candidates
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
    if iq.price_min is not None:
        mask &= col["price"] >= iq.price_min
    if iq.price_max is not None:
        mask &= (col["price"] >= 0) & (col["price"] <= iq.price_max)
    if iq.ipc:
        ids, _tf = snap.term_postings("ipc", iq.ipc)
        ipc_mask = np.zeros(snap.size, dtype=bool)
        ipc_mask[ids] = True
        mask &= ipc_mask
    if iq.restrict_ids is not None:
        mask &= np.isin(snap.lid, np.fromiter(iq.restrict_ids, dtype=np.int64))
    return mask


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


def _order(snap, docs, scores, sort, want):
    """The first ``want`` docs of ``docs`` in the requested order (ties: newest, then highest id)."""
    if not len(docs):
        return docs
    published = snap.col["published"][docs]
    lid = snap.lid[docs]
    if sort in ("price_asc", "price_desc"):
        price = snap.col["price"][docs].astype(np.float64)
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
                mask &= _clause_match(snap, clause, scores)
                if not mask.any():
                    break
        docs = np.nonzero(mask)[0]
        total = int(len(docs))
        ordered = _order(snap, docs, scores, sort, offset + limit)[offset:offset + limit] if total > offset else docs[:0]
        return IndexResult(
            total=total,
            ids=[int(x) for x in snap.lid[ordered]],
            scores={int(snap.lid[d]): float(scores[d]) for d in ordered} if scores is not None else {},
            facets=_facets(snap, docs) if facets else {},
        )


def _empty_facets():
    return {"kind": {}, "grade": {}, "nice_class": {}, "ipc_section": {}, "deal_type": {}}
