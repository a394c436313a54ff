"""The one module that reads Whoosh's private internals (issue 20). Whoosh is pinned in requirements.txt.

Everything else in ``search`` uses Whoosh's public API (schema, writer, searcher, segment readers) or the
functions below. They read what the executor needs in bulk, as numpy arrays, instead of value by value:

* ``field_lengths(segreader, name, n)`` / ``numeric_column(segreader, name, coltype, n)``: a segment's
  per-document column in one read (``_perdoc``, the column reader's ``_dbfile``, ``_basepos``, ``_count``, the
  column type's ``_typecode`` and ``_default``; field lengths are stored as one byte each, decoded through
  ``whoosh.util.numeric._length_byte_cache``);
* ``postings(segreader, field, text)``: a term's (local docnums, frequencies), decoded a block at a time
  (``W3LeafMatcher``: ``_read_data``, ``_data``, ``_byteids``, ``_blocklength``, ``_next_block``);
* ``positions(segreader, field, text, local_docs)``: the encoded word positions of a term for some documents,
  skipping blocks that hold none of them (``_maxid``, ``_read_values``, ``_values``); ``all_positions`` for
  every document; ``decode_positions`` for one such value;
* ``block_directory(segreader, field, text)``: where each of a term's posting blocks starts and its last
  docnum, from one walk over the block headers (``_baseoffset``, ``_nextoffset``, ``_lastblock``), so that
  ``positions`` jumps to the blocks it needs (``_goto``, ``_atend``) instead of reading every header before them.

When an attribute is missing (another Whoosh, another codec) each function falls back to Whoosh's public,
posting-by-posting matcher API, slower but right; ``tests/search/test_whoosh_reader.py`` fails first
(``INTERNALS`` lists what is read), and compares the results with Whoosh's own matchers.
"""
import pickle
import secrets
import struct

import numpy as np
from whoosh.codec.base import Segment
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, W3LeafMatcher
from whoosh.util import IDCHARS
from whoosh.util.numeric import _length_byte_cache

WHOOSH_VERSION = "2.7.4"  # the version these internals were read from (requirements.txt pins it)

# What this module reads, for the test that fails when an upgrade changes it:
# (dotted class path, instance attributes it reads, methods it calls with the positional parameters it passes).
INTERNALS = {
    "whoosh.codec.whoosh3.W3LeafMatcher": {
        "attributes": ("_data", "_byteids", "_blocklength", "_maxid", "_values", "_baseoffset", "_nextoffset",
                       "_lastblock", "_atend"),
        "methods": {"_read_data": (), "_read_values": (), "_next_block": (), "reset": (), "is_active": (),
                    "_goto": ("position",)},
    },
    "whoosh.reading.SegmentReader": {"attributes": ("_perdoc",), "methods": {}},
    "whoosh.codec.whoosh3.W3PerDocReader": {
        "attributes": ("_readers",),
        "methods": {"has_column": ("fieldname",), "column_reader": ("fieldname", "column"),
                    # replaced: see lengths_read_once
                    "_cached_reader": ("fieldname", "column")},
    },
    "whoosh.columns.NumericColumn": {"attributes": ("_typecode", "_default"), "methods": {}},
    "whoosh.columns.FixedBytesColumn.Reader": {"attributes": ("_dbfile", "_basepos", "_count"), "methods": {}},
    "whoosh.filedb.structfile.StructFile": {"attributes": (), "methods": {"get": ("position", "length")}},
    "whoosh.matching.wrappers.FilterMatcher": {"attributes": ("child",), "methods": {}},
    "whoosh.util.numeric": {"attributes": ("_length_byte_cache",), "methods": {}},
    "whoosh.formats.Positions": {"attributes": (), "methods": {"decode_positions": ("valuestring",)}},
    # replaced, not read: see unseeded_segment_ids
    "whoosh.codec.base.Segment": {"attributes": ("segid",), "methods": {"_random_id": ()}},
}

def unseeded_segment_ids():
    """Name new segments from the operating system's randomness, not from the ``random`` module.

    Whoosh names a segment ``<index>_<16 random characters>`` drawn with ``random.choice``
    (``Segment._random_id`` → ``whoosh.util.random_name``). Anything that seeds ``random`` in the process makes
    two writers draw the same name, and the second one's commit fails on Whoosh's assertion that the segment's
    compound file does not exist yet (``create_compound_file``): the index stops taking changes. Hypothesis
    seeds ``random`` for every example, which is how the worker-mode run found it (tests/escrow/test_ledger.py);
    a library seeding it in production would do the same. Called once when ``search.storage`` is imported."""
    def _random_id(cls, size=16):
        return "".join(secrets.choice(IDCHARS) for _ in range(size))

    Segment._random_id = classmethod(_random_id)


def lengths_read_once():
    """A segment's per-document reader remembers that a field has *no* length column, as it remembers one it has.

    When a writer commits, Whoosh asks the new segment's length of every posting's field
    (``W3PerDocReader.doc_field_length`` → ``_cached_reader``). Only scorable fields have a length column; for the
    others (``*_pos``, ``*_pair``, ``numbers``, ``ipc``: most postings) Whoosh looked for the column file again on
    every posting, an ``os.stat`` each: about a fifth of a reindex's time (docs/performance.md, issue 18 at 1M). A
    segment's files never change once written, so the answer is kept per reader. Called once when
    ``search.storage`` is imported."""
    from whoosh.codec.whoosh3 import W3PerDocReader

    def _cached_reader(self, fieldname, column):
        readers = self._readers
        if fieldname in readers:
            return readers[fieldname]
        reader = self.column_reader(fieldname, column) if self.has_column(fieldname) else None
        readers[fieldname] = reader
        return reader

    W3PerDocReader._cached_reader = _cached_reader


LENGTHS = np.array(list(_length_byte_cache), dtype=np.float32)  # length byte -> field length
_EMPTY = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))
_INT_SIZE = struct.calcsize("!I")


# --- columns -----------------------------------------------------------------------------------------

def numeric_column(segreader, fieldname, coltype, doccount):
    """A NumericColumn of one segment as a numpy array, read in one go (the column's default where unset)."""
    dtype = np.dtype(coltype._typecode).newbyteorder(">")
    out = np.full(doccount, coltype._default, dtype=dtype.newbyteorder("="))
    perdoc = segreader._perdoc
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


def field_lengths(segreader, fieldname, doccount):
    """The lengths (in words) of a scorable text field in one segment, as float32."""
    raw = numeric_column(segreader, f"_{fieldname}_len", LENGTHS_COLUMN, doccount)
    return LENGTHS[raw.astype(np.int64)]


# --- postings ----------------------------------------------------------------------------------------

def _matcher(segreader, fieldname, text):
    """The raw leaf matcher of one term in one segment (deletions are not filtered), or None."""
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


def _fast(matcher):
    return isinstance(matcher, W3LeafMatcher) and not matcher._byteids


def postings(segreader, fieldname, text):
    """(local docnums ascending as int64, frequencies as float32) of one term in one segment, deleted
    documents included (the caller masks them)."""
    matcher = _matcher(segreader, fieldname, text)
    if matcher is None:
        return _EMPTY
    if not _fast(matcher):
        pairs = []
        while matcher.is_active():
            pairs.append((matcher.id(), matcher.weight()))
            matcher.next()
        if not pairs:
            return _EMPTY
        arr = np.array(pairs, dtype=np.float64)
        return arr[:, 0].astype(np.int64), arr[:, 1].astype(np.float32)
    ids, tfs = [], []
    while matcher.is_active():
        if matcher._data is None:
            matcher._read_data()
        raw_ids, raw_weights = matcher._data[0], matcher._data[1]
        n = matcher._blocklength
        ids.append(np.cumsum(np.asarray(raw_ids, dtype=np.int64)))  # stored as deltas
        if raw_weights is None:
            tfs.append(np.ones(n, dtype=np.float32))
        elif isinstance(raw_weights, float):
            tfs.append(np.full(n, raw_weights, dtype=np.float32))
        else:
            tfs.append(np.asarray(raw_weights, dtype=np.float32))
        matcher._next_block()
    if not ids:
        return _EMPTY
    return np.concatenate(ids), np.concatenate(tfs)


def block_directory(segreader, fieldname, text):
    """(last docnum of each block as int64, each block's offset in the postings file) of one term in one
    segment, from one walk over its block headers; None when the term is absent or its postings are not
    Whoosh 3's blocks. With it, ``positions`` goes straight to the blocks it needs instead of reading every
    header before them (a common word has hundreds of blocks: a few wanted documents cost a walk over all)."""
    matcher = _matcher(segreader, fieldname, text)
    if matcher is None or not _fast(matcher):
        return None
    last_ids, offsets = [], []
    position = matcher._baseoffset  # ``_matcher`` leaves it on the first block
    while True:
        last_ids.append(matcher._maxid)
        offsets.append(position)
        if matcher._lastblock:
            break
        position = matcher._nextoffset
        matcher._goto(position)
    return np.asarray(last_ids, dtype=np.int64), np.asarray(offsets, dtype=np.int64)


def positions(segreader, fieldname, text, local_docs, directory=None):
    """{local docnum: encoded positions} of one term for ``local_docs`` (sorted local docnums, int64).

    Blocks whose id range holds none of ``local_docs`` are skipped unread (their header gives the last id),
    so a rare companion word keeps a common word's positions cheap; with the term's ``directory``
    (``block_directory``) their headers are not read either.
    """
    out = {}
    if not len(local_docs):
        return out
    matcher = _matcher(segreader, fieldname, text)
    if matcher is None:
        return out
    if directory is not None and _fast(matcher):
        last_ids, offsets = directory
        for block in np.unique(np.searchsorted(last_ids, local_docs, side="left")).tolist():
            if block >= len(offsets):
                break  # past the term's last document
            matcher._atend = matcher._lastblock = False
            matcher._goto(int(offsets[block]))
            _block_positions(matcher, local_docs, out)
        return out
    if not _fast(matcher):
        wanted = set(local_docs.tolist())
        while matcher.is_active():
            if matcher.id() in wanted:
                out[matcher.id()] = matcher.value()
            matcher.next()
        return out
    last = -1
    top = int(local_docs[-1])
    while matcher.is_active():
        first = np.searchsorted(local_docs, last, side="right")
        if first >= len(local_docs) or local_docs[first] > top:
            break  # every wanted document lies before this block
        last = matcher._maxid
        if local_docs[first] <= last:
            _block_positions(matcher, local_docs, out)
        if last >= top:
            break  # no wanted document after this block: the rest is not read
        matcher._next_block()
    return out


def _block_positions(matcher, local_docs, out):
    """Put the encoded positions of the current block's documents that are in ``local_docs`` into ``out``."""
    if matcher._data is None:
        matcher._read_data()
    ids = np.cumsum(np.asarray(matcher._data[0], dtype=np.int64))
    matcher._read_values()
    values = matcher._values
    at = np.minimum(np.searchsorted(local_docs, ids), len(local_docs) - 1)
    for i in np.nonzero(local_docs[at] == ids)[0].tolist():
        out[int(ids[i])] = values[i]


def decode_positions(value):
    """The word positions of one encoded ``formats.Positions`` value (what ``positions`` returns)."""
    if not value.endswith(b"."):
        value += b"."
    return np.cumsum(np.asarray(pickle.loads(value[_INT_SIZE:]), dtype=np.int64))


def all_positions(segreader, fieldname, text):
    """(local docnums ascending as int64, their encoded positions as a list) of one term in one segment, every
    block read (what a cache of a common word's positions keeps; see ``executor.PostingsCache``)."""
    matcher = _matcher(segreader, fieldname, text)
    if matcher is None:
        return np.zeros(0, dtype=np.int64), []
    if not _fast(matcher):
        ids, values = [], []
        while matcher.is_active():
            ids.append(matcher.id())
            values.append(matcher.value())
            matcher.next()
        return np.array(ids, dtype=np.int64), values
    ids, values = [], []
    while matcher.is_active():
        if matcher._data is None:
            matcher._read_data()
        ids.append(np.cumsum(np.asarray(matcher._data[0], dtype=np.int64)))
        matcher._read_values()
        values.extend(matcher._values)
        matcher._next_block()
    return (np.concatenate(ids) if ids else np.zeros(0, dtype=np.int64)), values


def flatten_positions(ids, values):
    """(ids, offsets, positions): the encoded positions ``values`` of docs ``ids`` decoded into one flat array;
    doc ``ids[i]`` has ``positions[offsets[i]:offsets[i + 1]]``, ascending."""
    deltas, counts = [], np.zeros(len(values), dtype=np.int64)
    for i, value in enumerate(values):
        if not value.endswith(b"."):
            value += b"."
        codes = pickle.loads(value[_INT_SIZE:])
        counts[i] = len(codes)
        deltas.extend(codes)
    offsets = np.zeros(len(values) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    flat = np.cumsum(np.asarray(deltas, dtype=np.int64))
    if len(flat):  # the running sum restarts at each doc: subtract what the docs before it added
        starts = offsets[:-1][counts > 0]
        base = np.zeros(len(values), dtype=np.int64)
        base[counts > 0] = flat[starts] - np.asarray(deltas, dtype=np.int64)[starts]
        flat -= np.repeat(base, counts)
    return np.asarray(ids, dtype=np.int64), offsets, flat
