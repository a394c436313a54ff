"""The index on disk (issue 20 split of ``index.py``): opening, writing, and the long-lived searcher.

The index folder is ``app.config["SEARCH_INDEX_PATH"]``. Writes take Whoosh's file lock with a timeout
(several gunicorn workers share one folder); a write that cannot get the lock raises :class:`IndexBusy` and
the caller (the outbox drain) leaves its rows for the next attempt, so a user's request never fails because
of the index.

Reads: each process keeps one long-lived searcher per index folder (an ``executor.Snapshot`` with its column
arrays) and reopens it only when another writer has committed a new generation.
"""
import logging
import os
import shutil
import threading
import time

import numpy as np
from flask import current_app
from whoosh import index as whoosh_index
from whoosh.fields import COLUMN
from whoosh.index import LockError
from whoosh.writing import CLEAR

from . import whoosh_reader
from .executor import PostingsCache, Snapshot
from .schema import FIELD_BOOSTS, build_schema, listing_document

whoosh_reader.unseeded_segment_ids()
whoosh_reader.lengths_read_once()

log = logging.getLogger(__name__)

PAIR_FIELDS = ("title_pair", "body_pair")
# Written when every document has its word pairs (a new index, or after ``rebuild``); an index that got the pair
# fields in place lacks them for its older documents, so phrases read positions only until the next reindex.
PAIRS_MARKER = "word_pairs_complete"


def _schema_is_current(ix):
    """Whether the index ``ix`` has the fields this version writes (else it is upgraded or replaced on opening)."""
    return set(ix.schema.names()) == set(build_schema().names())


class IndexBusy(Exception):
    """Another process holds the index writer lock (or the index cannot be written now)."""


class IndexHandle:
    """One index folder in this process: opening, writing, and the long-lived searcher."""

    def __init__(self, path):
        self.path = path
        self._ix = None
        self._snapshot = None
        self._lock = threading.RLock()
        self._segment_cache = {}
        self._postings_cache = PostingsCache()

    # opening
    def open(self, create=True):
        with self._lock:
            if self._ix is not None and os.path.isdir(self.path):
                return self._ix
            self._reset()
            if os.path.isdir(self.path) and whoosh_index.exists_in(self.path):
                self._ix = whoosh_index.open_dir(self.path)
                if not _schema_is_current(self._ix) and not self._add_columns():
                    # Written by an older version: start empty; `flask search reindex` fills it again.
                    log.error("search index at %s has an old schema; replaced by an empty one: run "
                              "`flask search reindex`", self.path)
                    self._ix = whoosh_index.create_in(self.path, build_schema())
                    self._mark_pairs_complete()
                    for name in os.listdir(self.path):
                        if name.startswith("outbox_position"):
                            os.unlink(os.path.join(self.path, name))
            elif create:
                os.makedirs(self.path, exist_ok=True)
                try:
                    self._ix = whoosh_index.create_in(self.path, build_schema())
                    self._mark_pairs_complete()
                except LockError:  # another process is creating it right now
                    self._ix = whoosh_index.open_dir(self.path)
            return self._ix

    def _add_columns(self):
        """An index that lacks only new column fields (e.g. ``ends``, issue 18) or the word-pair fields gets them
        added in place: its documents read the column's default until they are written again (the outbox or a
        reindex), and phrases check positions as before until a reindex has given every document its pairs
        (``PAIRS_MARKER``). Any other schema difference returns False (the caller starts an empty index)."""
        old, new = self._ix.schema, build_schema()
        missing = [name for name in new.names() if name not in old]
        if any(name not in new for name in old.names()) or not all(
                isinstance(new[n], COLUMN) or n in PAIR_FIELDS for n in missing):
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
        self._postings_cache.clear()

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
        self._mark_pairs_complete()  # every document now has its word pairs
        return count

    def _mark_pairs_complete(self):
        with open(os.path.join(self.path, PAIRS_MARKER), "w") as fh:
            fh.write("every document of this index has its word-pair fields\n")

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
            new = Snapshot(ix.searcher(), self._segment_cache, self._postings_cache)
            new.generation = generation
            new.pairs = os.path.exists(os.path.join(self.path, PAIRS_MARKER))
            if snap is not None:
                snap.close()
            self._snapshot = new
            return new


    def warm(self, terms_per_field=200, seconds=5.0):
        """Open the searcher (its column arrays) and read the postings of each text field's most frequent terms
        into the postings cache, up to half of it: what a worker's first queries would otherwise read one by
        one (a common word's whole list is ~10-15 ms at 100,000 listings, paid by the first query of each worker
        that has it; docs/performance.md, session 9). Called once, when a web worker starts
        (``marketplace.web.serving``), so it is bounded: each segment's term dictionary is scanned on its own
        (Whoosh's multi-segment scan merges them term by term), and nothing more is read after ``seconds``.
        An index that is missing, or written by an older version (upgraded on the first search, as before),
        is not opened here. Returns the number of terms read."""
        if not (os.path.isdir(self.path) and whoosh_index.exists_in(self.path)):
            return 0
        deadline = time.monotonic() + seconds
        with self._lock:
            if self._ix is None:
                try:
                    if not _schema_is_current(whoosh_index.open_dir(self.path)):
                        return 0
                except Exception:  # noqa: BLE001 - replaced under us: the first search opens it
                    return 0
            snap = self.snapshot()
            cache, read = self._postings_cache, 0
            for name in FIELD_BOOSTS:
                frequent = {}
                for segreader, _offset in snap.leaves:
                    for weight, term in segreader.most_frequent_terms(name, terms_per_field):
                        frequent[term] = frequent.get(term, 0) + weight
                for term in sorted(frequent, key=frequent.get, reverse=True)[:terms_per_field]:
                    if cache.bytes >= cache.max_bytes // 2 or time.monotonic() > deadline:
                        return read
                    text = term.decode("utf-8") if isinstance(term, bytes) else term
                    if cache.fits(12 * snap.reader.doc_frequency(name, text)):  # else never kept: not read
                        snap.term_postings(name, text)
                        read += 1
            return read

    def holds_any(self, listing_ids):
        """Whether the index (as committed now) holds any of ``listing_ids``."""
        if not listing_ids:
            return False
        with self._lock:
            snap = self.snapshot()
            return bool(snap.size) and bool(np.isin(snap.lid[snap.live], list(listing_ids)).any())


_handles = {}
_handles_lock = threading.Lock()


def handle_for(path):
    path = os.path.abspath(path)
    with _handles_lock:
        if path not in _handles:
            _handles[path] = IndexHandle(path)
        return _handles[path]


def current_handle():
    return handle_for(current_app.config["SEARCH_INDEX_PATH"])


def add_to_index(writer, listing):
    """Add or replace ``listing`` in the index (inside an open writer)."""
    writer.update_document(**listing_document(listing))


def remove_from_index(writer, listing_id):
    writer.delete_by_term("lid", str(listing_id))

