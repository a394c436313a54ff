"""The project's own Chinese/English analyzer for Whoosh, and number normalisation.

Why not jieba's bundled ``ChineseAnalyzer``: it numbers tokens by character
offset and emits overlapping search-mode tokens one after another, so phrase
queries find nothing (STYLE.md). Here:

* Chinese runs are cut by jieba in *precise* mode (HMM off, so the same text is
  cut the same way wherever it appears; unknown characters fall back to single
  characters on both sides). Every precise word takes the next position.
* At index time each word also emits its dictionary sub-words (what
  ``cut_for_search`` adds: 电池 and 锂电 inside 锂电池, 图像 and 识别 inside
  图像识别) at the *same* position as the word they come from. So 电池 finds
  锂电池, and the phrase "图像识别方法" (precise: 图像识别/方法) still sees two
  consecutive positions.
* Queries are analysed in precise mode only (no sub-words).
* Latin words and digits are lower-cased; alphabetic words are Porter-stemmed.
* Application / registration numbers are indexed (and queried) in one digits-only
  spelling, so ``201710601862.3``, ``ZL201710601862.3`` and ``CN 2017 1 0601862.3``
  all find the same right.

jieba's dictionary (plus the domain words of ``search/data``, see :func:`_load_user_words`) is
loaded once per process by :func:`initialise` (called at app start-up), never per request.
"""
import functools
import logging
import re
import threading

import jieba
from whoosh.analysis import Token, Tokenizer
from whoosh.lang.porter import stem as porter_stem

_lock = threading.Lock()
_ready = False

# Full-width ASCII (ＡＢＣ１２３) and the ideographic space map one-to-one onto ASCII,
# so character offsets stay valid for highlighting.
_FULLWIDTH = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}
_FULLWIDTH[0x3000] = 0x20

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_RUN = re.compile(rf"([{_CJK}]+)|([A-Za-z0-9]+)")
_ALPHA = re.compile(r"[a-z]+")
_CJK_WORD = re.compile(rf"[{_CJK}]+")


def initialise():
    """Load jieba's dictionary once for this process (idempotent, thread-safe)."""
    global _ready
    if _ready:
        return
    with _lock:
        if not _ready:
            jieba.setLogLevel(logging.WARNING)
            jieba.initialize()
            _load_user_words()
            _ready = True


def _load_user_words():
    """Domain words from the synonym and glossary tables (search/data) into jieba's dictionary, so that
    石墨烯, 锂离子电池 or 无人驾驶飞行器 are cut as one word (with their sub-words indexed as well).

    A word jieba already knows keeps its frequency; a new one gets the frequency that keeps it whole
    (``suggest_freq``). Changing this list changes how new text is cut: reindex after adding words.
    """
    from .synonyms import dictionary_words

    for word in dictionary_words():
        if not jieba.dt.FREQ.get(word):
            jieba.add_word(word)


def normalise_text(text):
    return (text or "").translate(_FULLWIDTH)


@functools.lru_cache(maxsize=50_000)
def _latin(word):
    word = word.lower()
    if _ALPHA.fullmatch(word):
        return porter_stem(word)
    return word


@functools.lru_cache(maxsize=200_000)
def _sub_words(word):
    """Dictionary words strictly inside ``word`` (length >= 2), with their offset in it."""
    if len(word) < 3:
        return ()
    freq = jieba.dt.FREQ
    found = []
    for size in range(2, len(word)):
        for start in range(0, len(word) - size + 1):
            piece = word[start:start + size]
            if freq.get(piece):
                found.append((piece, start))
    return tuple(found)


def _cut(run):
    initialise()
    return jieba.cut(run, HMM=False)


def iter_words(text, subwords=False):
    """Yield ``(word, position, start, end)`` over ``text``.

    Positions count precise words; sub-words (``subwords=True``) share the position of
    the word they come from.
    """
    text = normalise_text(text)
    pos = 0
    for match in _RUN.finditer(text):
        cjk, latin = match.group(1), match.group(2)
        if latin:
            yield _latin(latin), pos, match.start(), match.end()
            pos += 1
            continue
        offset = match.start()
        for word in _cut(cjk):
            end = offset + len(word)
            yield word, pos, offset, end
            if subwords:
                for piece, at in _sub_words(word):
                    yield piece, pos, offset + at, offset + at + len(piece)
            pos += 1
            offset = end


@functools.lru_cache(maxsize=50_000)
def split_word(word):
    """The finer cut of a (CJK) dictionary word: the fewest dictionary words, other than ``word`` itself,
    that make it up, e.g. 识别方法 -> (识别, 方法). None when there is none (two-character words, unknown words).

    A text can cut the same characters into different words than the query does (图像识别/方法 in
    the document, 识别方法 in the query); matching the finer cut as a phrase bridges that.
    """
    if len(word) < 3 or not _CJK_WORD.fullmatch(word):
        return None
    initialise()
    freq = jieba.dt.FREQ
    n = len(word)
    # best[i] = (pieces, -frequency sum, parts) for word[i:]
    best = [None] * (n + 1)
    best[n] = (0, 0, ())
    for i in range(n - 1, -1, -1):
        options = []
        for j in range(i + 2, n + 1):
            piece = word[i:j]
            if (i, j) != (0, n) and freq.get(piece) and best[j] is not None:
                rest = best[j]
                options.append((rest[0] + 1, rest[1] - freq[piece], (piece,) + rest[2]))
        if options:
            best[i] = min(options)
    return best[0][2] if best[0] is not None else None


# Words that say nothing about what is searched for: dropped from a query that has other words, and a
# query of nothing else gets a message instead of every listing (search.service).
STOP_WORDS = frozenset(
    "一种 一个 一套 的 地 得 了 和 与 及 及其 以及 或 或者 其 该 所述 用于 基于 包括 具有 一 种 个 在 是 有 对 把 被 "
    "及其制备 其制备 an a the of for and or with in on to by at from as is are be its this that".split())


def is_stop_word(word):
    return word in STOP_WORDS or _latin(word) in STOP_WORDS


def query_words(text):
    """The precise-mode terms of a piece of query text, in order."""
    return [word for word, _pos, _s, _e in iter_words(text)]


_LATIN_WORD = re.compile(r"[A-Za-z0-9]+")


def _term_spans(text, terms, first_only=False):
    """Unsorted (start, end) spans of ``text`` where query ``terms`` occur; ``first_only``: each CJK term's first
    occurrence and the first matching Latin word only (enough to know where the first match starts).

    The text is folded (full-width letters and digits) only for Latin terms: folding maps one character onto
    one and never touches a CJK character, so a CJK term is found at the same offsets in the text as it is,
    and ``translate`` (about 0.15 µs a character; Chinese punctuation is full-width) is skipped for them."""
    text = text or ""
    spans = []
    latin = False
    for term in terms:
        if _CJK_WORD.fullmatch(term):
            at = text.find(term)
            while at >= 0:
                spans.append((at, at + len(term)))
                if first_only:
                    break
                at = text.find(term, at + 1)
        else:
            latin = True
    if latin:
        for match in _LATIN_WORD.finditer(normalise_text(text)):
            if _latin(match.group()) in terms:
                spans.append(match.span())
                if first_only:
                    break
    return spans


def match_spans(text, terms):
    """Sorted, merged (start, end) spans of ``text`` where query ``terms`` occur (for highlighting).

    No segmentation, so it stays cheap for every hit on a page: a CJK term is marked wherever it
    occurs as a substring (the index finds it inside longer words the same way), a Latin word
    wherever a word of the text has the same stem.
    """
    spans = _term_spans(text, terms)
    spans.sort()
    merged = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def first_match(text, terms):
    """Character offset of the first place in ``text`` where a query term occurs, or None (where
    ``match_spans`` would start, without finding every occurrence: a snippet needs only the first)."""
    spans = _term_spans(text, terms, first_only=True)
    return min(start for start, _end in spans) if spans else None


_recent = {}


def _index_words(value):
    """iter_words(value, subwords=True) as a list, remembered for the last few texts: each text is
    indexed into two fields (frequencies and positions) one right after the other."""
    words = _recent.get(value)
    if words is None:
        if len(_recent) >= 8:
            _recent.clear()
        words = _recent[value] = list(iter_words(value, subwords=True))
    return words


class ChineseEnglishTokenizer(Tokenizer):
    """Whoosh tokenizer: precise words with real positions, plus sub-words when indexing."""

    def __eq__(self, other):
        return other is not None and self.__class__ is other.__class__

    def _items(self, value, mode):
        """(text, position, start, end) of each token of ``value``."""
        return _index_words(value) if mode == "index" else iter_words(value)

    def __call__(self, value, positions=False, chars=False, keeporiginal=False, removestops=True,
                 start_pos=0, start_char=0, tokenize=True, mode="", **kwargs):
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        items = self._items(value, mode) if tokenize else [(value, 0, 0, len(value))]
        for word, pos, start, end in items:
            token.text = word
            token.boost = 1.0
            token.stopped = False
            if keeporiginal or not tokenize:
                token.original = word
            if positions:
                token.pos = start_pos + pos
            if chars:
                token.startchar, token.endchar = start_char + start, start_char + end
            yield token


def ChineseEnglishAnalyzer():  # noqa: N802  (Whoosh names analyzers like classes)
    return ChineseEnglishTokenizer()


PAIR_SEPARATOR = " "  # no word holds a space


def pair_term(first, second):
    """The ``*_pair`` field's term for two words at consecutive positions."""
    return first + PAIR_SEPARATOR + second


def word_pairs(words):
    """The distinct pair terms of ``(word, position, …)`` tuples: every word at position p with every word at p + 1
    (sub-words share their word's position, so 锂电池 and 电池 both pair with the next word)."""
    at = {}
    for word, pos, *_rest in words:
        at.setdefault(pos, []).append(word)
    out = {}
    for pos, firsts in at.items():
        for second in at.get(pos + 1, ()):
            for first in firsts:
                out[pair_term(first, second)] = None
    return list(out)


class WordPairTokenizer(ChineseEnglishTokenizer):
    """Whoosh tokenizer of the ``title_pair``/``body_pair`` fields: one term per two words that follow each other
    (issue 18, phrases). A two-word phrase is then one term's postings, a longer one the AND of its pairs, checked
    against positions only for the few documents holding every pair."""

    def _items(self, value, mode):
        words = _index_words(value) if mode == "index" else list(iter_words(value))
        return [(term, i, 0, 0) for i, term in enumerate(word_pairs(words))]


def WordPairAnalyzer():  # noqa: N802
    return WordPairTokenizer()


# --- numbers --------------------------------------------------------------

# A run that starts with a digit (optionally after CN/ZL), may contain spaces and dots,
# and ends with a digit or a check character X.
_NUMBER = re.compile(r"(?i)(?<![A-Za-z0-9])(?:(?:CN|ZL)\s*)?\d[\d .]*[\dX](?![A-Za-z0-9])")
_MIN_NUMBER_DIGITS = 7


def number_key(text):
    """Digits-only spelling of an application/registration number (check character X kept, lower-cased)."""
    text = normalise_text(text).upper()
    text = re.sub(r"^\s*(CN|ZL)", "", text)
    return re.sub(r"[^0-9X]", "", text).lower()


def number_variants(number, kind="patent"):
    """Index terms for a canonical number: the digits-only key, and for patents also the key without
    its check character (people often leave it off)."""
    key = number_key(number)
    if not key:
        return []
    variants = [key]
    if kind == "patent" and "." in (number or "") and len(key) > 8:
        variants.append(key[:-1])
    return variants


def split_numbers(text):
    """Pull number-like parts out of query text. Returns ``(keys, rest_of_text)``."""
    keys = []

    def take(match):
        key = number_key(match.group(0))
        if len(re.sub(r"\D", "", key)) >= _MIN_NUMBER_DIGITS:
            keys.append(key)
            return " "
        return match.group(0)

    rest = _NUMBER.sub(take, normalise_text(text))
    return keys, rest
