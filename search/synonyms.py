"""Query-time expansion: synonyms, abbreviations and the zh↔en glossary (docs/search.md).

The tables are data in ``search/data``:

* ``synonyms.tsv`` — groups of equivalent terms (锂电池 / 锂离子电池 / 锂电), one group a line;
* ``glossary.tsv`` — curated zh↔en pairs (石墨烯 / graphene), one pair a line;
* ``glossary_ipc.tsv`` — zh↔en pairs derived from the IPC scheme's headings
  (``python -m search.build_glossary``).

Nothing here touches the index: a query's words are looked up (the longest run of consecutive
query words first, up to ``MAX_NGRAM`` words) and the matching clauses get *alternatives*, other
word sequences that satisfy them too. So editing a table needs no reindex; the tables are re-read
when a file's modification time changes. Expansion is bounded: at most ``MAX_EXPANSIONS`` terms a
query (``SEARCH_MAX_EXPANSIONS``), the closest first (same-language synonyms, then translations,
then the translations' synonyms). Exact matches rank first (see ``executor._clause_match``).

Terms are compared after the same analysis as queries (precise jieba cut, lower-cased, stemmed),
so "Lithium Batteries" finds the entry "lithium battery".
"""
import os
import re
import threading
from dataclasses import dataclass, replace
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
SYNONYMS = DATA / "synonyms.tsv"
GLOSSARY = DATA / "glossary.tsv"
GLOSSARY_IPC = DATA / "glossary_ipc.tsv"
MAX_EXPANSIONS = 8  # alternative terms a whole query may add
MAX_PER_TERM = 4  # of which one looked-up term may add
MAX_NGRAM = 4  # longest run of query words looked up as one term
MAX_TERM_CHARS = 40
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_CJK_ONLY = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]{2,12}")


def _lines(path):
    try:
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                line = line.rstrip("\n")
                if line.strip() and not line.lstrip().startswith("#"):
                    yield [cell.strip() for cell in line.split("\t")]
    except FileNotFoundError:
        return


def read_synonym_groups(path=None):
    """[[term, …], …]: each line's terms (at least two, each at most MAX_TERM_CHARS)."""
    groups = []
    for cells in _lines(path or SYNONYMS):
        terms = list(dict.fromkeys(c for c in cells if c and len(c) <= MAX_TERM_CHARS))
        if len(terms) >= 2:
            groups.append(terms)
    return groups


def read_glossary(path):
    """[(zh, en), …] (a third column, the source, is ignored)."""
    pairs = []
    for cells in _lines(path):
        if len(cells) >= 2 and cells[0] and cells[1] and max(len(cells[0]), len(cells[1])) <= MAX_TERM_CHARS:
            if _CJK.search(cells[0]) and not _CJK.search(cells[1]):
                pairs.append((cells[0], cells[1]))
    return pairs


def dictionary_words():
    """The Chinese terms of every table, for jieba's user dictionary (so 石墨烯 is one word, not 石墨/烯)."""
    words = set()
    for group in read_synonym_groups():
        words.update(t for t in group if _CJK_ONLY.fullmatch(t))
    for path in (GLOSSARY, GLOSSARY_IPC):
        words.update(zh for zh, _en in read_glossary(path) if _CJK_ONLY.fullmatch(zh))
    return sorted(words)


@dataclass
class Thesaurus:
    """{key (tuple of analysed words): [alternative display terms, closest first]}."""

    entries: dict
    words: dict  # display term -> its analysed words (a tuple)

    def lookup(self, key):
        return self.entries.get(tuple(key), ())


def build(groups, glossary_pairs, analyse):
    """A Thesaurus from synonym groups and glossary pairs (curated first); ``analyse(text) -> [words]``."""
    words = {}

    def key(term):
        if term not in words:
            words[term] = tuple(analyse(term))
        return words[term]

    synonyms, translations = {}, {}
    for group in groups:
        for term in group:
            synonyms.setdefault(key(term), []).extend(t for t in group if t != term)
    for zh, en in glossary_pairs:
        translations.setdefault(key(zh), []).append(en)
        translations.setdefault(key(en), []).append(zh)
    entries = {}
    for k in set(synonyms) | set(translations):
        if not k:
            continue
        out = list(synonyms.get(k, ()))
        found = translations.get(k, ())
        out += found
        for other in found:  # lithium battery -> 锂电池 -> 锂离子电池, 锂电
            out += synonyms.get(key(other), ())
        seen, alternatives = {k}, []
        for term in out:
            term_key = key(term)
            if term_key and term_key not in seen:
                seen.add(term_key)
                alternatives.append(term)
        if alternatives:
            entries[k] = alternatives
    return Thesaurus(entries, words)


_lock = threading.Lock()
_cache = {"stamp": None, "thesaurus": None}


def _files():
    return SYNONYMS, GLOSSARY, GLOSSARY_IPC  # read at call time (tests point them elsewhere)


def _stamp():
    out = [tuple(map(str, _files()))]
    for path in _files():
        try:
            st = os.stat(path)
            out.append((st.st_mtime_ns, st.st_size))
        except OSError:
            out.append(None)
    return tuple(out)


def thesaurus():
    """The current tables (re-read when a file changed)."""
    stamp = _stamp()
    if _cache["stamp"] != stamp:
        with _lock:
            if _cache["stamp"] != stamp:
                from . import analysis

                synonyms_file, curated, derived = _files()
                pairs = read_glossary(curated) + read_glossary(derived)
                _cache["thesaurus"] = build(read_synonym_groups(synonyms_file), pairs, analysis.query_words)
                _cache["stamp"] = stamp
    return _cache["thesaurus"]


def _max_expansions():
    try:
        from flask import current_app

        return int(current_app.config.get("SEARCH_MAX_EXPANSIONS", MAX_EXPANSIONS))
    except RuntimeError:  # outside an app
        return MAX_EXPANSIONS


def _expandable(clause):
    return not clause.number and not clause.exact and not clause.alternatives


def expand(clauses, limit=None, table=None):
    """(clauses with alternatives, [terms also searched]).

    Runs of consecutive plain word clauses are looked up longest first; a run that matches becomes
    one clause (its words ANDed, as before, in any order: ``loose``) with the alternatives attached.
    Quoted phrases and numbers are left alone. At most ``limit`` alternatives over the whole query.
    """
    limit = _max_expansions() if limit is None else limit
    table = table or thesaurus()
    out, also, budget, i = [], [], limit, 0
    while i < len(clauses):
        clause = clauses[i]
        if budget <= 0 or not _expandable(clause):
            out.append(clause)
            i += 1
            continue
        for n in range(min(MAX_NGRAM, len(clauses) - i), 0, -1):
            run = clauses[i:i + n]
            if not all(_expandable(c) for c in run):
                continue
            words = [w for c in run for w in c.words]
            found = table.lookup(words)
            if not found:
                continue
            picked = []
            for term in found[:MAX_PER_TERM]:
                if len(picked) >= budget:
                    break
                alt = list(table.words.get(term) or ())
                if alt and alt != words:
                    picked.append((term, alt))
            if not picked:
                continue
            budget -= len(picked)
            also.extend(term for term, _alt in picked)
            base = run[0] if n == 1 else replace(run[0], words=words, phrase=False, loose=True)
            out.append(replace(base, alternatives=[alt for _term, alt in picked],
                               text=" ".join(c.text or "".join(c.words) for c in run)))
            i += n
            break
        else:
            out.append(clause)
            i += 1
    return out, list(dict.fromkeys(also))
