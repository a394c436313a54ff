"""Search: parsing a request, running it against the index, re-checking hits, highlights, saved searches.

The page and the API call the same functions here. The database is the truth: every
hit shown is re-read from it in one query and dropped unless it is still published,
so a stale index can delay a new listing but never shows a withdrawn one.

Query syntax: words are ANDed; ``"…"`` (or “…” / 「…」) is a phrase; an unclosed quote
runs to the end of the query; application / registration numbers match in any
accepted spelling. Filters take the API values (unknown values are a 422).
"""
import functools
import json
import re
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from html import escape
from types import MappingProxyType

from flask import current_app
from flask_babel import gettext as _
from markupsafe import Markup
from sqlalchemy import bindparam
from sqlalchemy import text as sql

from listings.models.listing import prices_by_deal_type
from listings.models.register import term_end
from marketplace.kernel.errors import Conflict, NotFound, ValidationError
from marketplace.kernel.extensions import db
from marketplace.kernel.notify import has_control_chars
from marketplace.kernel.observability import SEARCH_SECONDS
from marketplace.kernel.schemas import SchemaError, flat_errors
from marketplace.kernel.timeutil import iso

from . import analysis, synonyms
from .index import (
    Clause,
    Filters,
    IndexQuery,
    clause_variants,
    current_handle,
    query_index,
)
from .models import SavedSearch

MAX_QUERY_CHARS = 200
DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100
MAX_PAGE = 1000
MAX_PRICE_FILTER = 10**15  # fen: price_min and price_max
MAX_PARTIAL_CLAUSES = 8  # partial matching ORs at most this many parts of a query
MAX_PLAIN_CHARS = 20_000  # plain_text reads at most this much of a description (= listings MAX_DESCRIPTION)
FILTER_KEYS = tuple(f.name for f in fields(Filters))
_QUOTES = re.compile(r"[\"“”「」『』]")
_SINGLE_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


@dataclass
class SearchParams(Filters):
    q: str = ""
    sort: str = "relevance"
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE

    def filters(self):
        """The active filters as API query values (strings), for links and saved searches."""
        out = {}
        for key in FILTER_KEYS:
            value = getattr(self, key)
            if value in (None, "", ()):
                continue
            if key == "grade":
                value = ",".join(value)
            elif key == "ipc":
                value = value.upper()
            out[key] = str(value)
        return out

    def args(self, **changes):
        """Query-string arguments reproducing this search (with ``changes``; None removes a key)."""
        out = {"q": self.q} if self.q else {}
        out.update(self.filters())
        if self.sort != "relevance":
            out["sort"] = self.sort
        if self.per_page != DEFAULT_PER_PAGE:
            out["per_page"] = self.per_page
        for key, value in changes.items():
            if value is None:
                out.pop(key, None)
            else:
                out[key] = value
        return out


@dataclass
class SearchPage:
    params: SearchParams
    total: int
    results: list
    facets: dict
    suggestions: list = field(default_factory=list)
    also_searched: list = field(default_factory=list)  # synonyms / translations the query was expanded with
    partial: bool = False  # no listing matched every word: these match some of them (部分匹配)
    notice: str = None  # "only stop words" and the like

    @property
    def pages(self):
        return max(1, -(-self.total // self.params.per_page))


def parse_params(args):
    """Validate search arguments (a dict or request.args) with ``search.schemas.SearchQuery``, the schema the API
    documents; raises ValidationError naming each bad field."""
    from .schemas import SearchQuery  # the schema reads this module's bounds

    try:
        values = SearchQuery().load({key: args.get(key) for key in args})
    except SchemaError as exc:
        raise ValidationError(_("搜索参数有误"), flat_errors(exc.messages)) from None
    values["q"] = values.get("q") or ""
    return SearchParams(**values)


# --- query text -----------------------------------------------------------------

def _split_phrases(q):
    """[(text, is_phrase)]; an unclosed quote runs to the end of the query."""
    parts, inside, buf = [], False, []
    for ch in q:
        if _QUOTES.match(ch):
            parts.append(("".join(buf), inside))
            buf, inside = [], not inside
        else:
            buf.append(ch)
    parts.append(("".join(buf), inside))
    return [(text, phrase) for text, phrase in parts if text.strip()]


def parse_query(q):
    """The query text as AND-ed clauses (words, phrases, numbers)."""
    clauses = []
    for text, phrase in _split_phrases(q or ""):
        keys, rest = analysis.split_numbers(text)
        for key in keys:
            clauses.append(Clause([key], number=True))
        if phrase:
            words = analysis.query_words(rest)
            if words:
                clauses.append(Clause(words, phrase=len(words) > 1, exact=True, text=rest.strip()))
            continue
        for chunk in rest.split():
            run, run_text = [], ""
            spans = [(w, chunk[start:end]) for w, _pos, start, end in analysis.iter_words(chunk)]
            for word, typed in spans + [(None, None)]:
                # Characters jieba does not know come out one by one: keep such a run together as a phrase.
                if word is not None and len(word) == 1 and _SINGLE_CJK.match(word):
                    run.append(word)
                    run_text += typed
                    continue
                if run:
                    clauses.append(Clause(run, phrase=len(run) > 1, text=run_text))
                    run, run_text = [], ""
                if word is not None:
                    clauses.append(Clause([word], text=typed))
    unique, seen = [], set()
    for clause in clauses:
        key = (tuple(clause.words), clause.phrase, clause.number)
        if key not in seen:
            seen.add(key)
            unique.append(clause)
    return unique


def drop_stop_words(clauses):
    """``clauses`` without the stop words (一种, 的, the, of …), unless nothing else is left."""
    kept = [c for c in clauses if c.number or c.exact or c.phrase or c.loose or c.alternatives
            or not analysis.is_stop_word(c.words[0])]
    return kept if kept else clauses


def only_stop_words(q, clauses):
    """True for a query that has text but nothing to search for: only stop words or punctuation."""
    if not (q or "").strip():
        return False
    return not clauses or all(not c.number and not c.phrase and analysis.is_stop_word(c.words[0]) for c in clauses)


def search_clauses(q):
    """(clauses to run, terms also searched): the parsed query, expanded, without stop words."""
    clauses, also = synonyms.expand(parse_query(q))
    return drop_stop_words(clauses), also


def index_query(params, clauses=None, restrict_ids=None, match_any=False):
    if clauses is None:
        clauses, _also = search_clauses(params.q)
    return IndexQuery(clauses=clauses, restrict_ids=restrict_ids, match_any=match_any, **params.filter_values())


# --- highlights ---------------------------------------------------------------

def highlight(text, terms):
    """``text`` HTML-escaped, with every occurrence of a query term wrapped in ``<mark>``."""
    text = text or ""
    out, last = [], 0
    for start, end in (analysis.match_spans(text, terms) if terms else ()):
        out.append(escape(text[last:start]))
        out.append("<mark>" + escape(text[start:end]) + "</mark>")
        last = end
    out.append(escape(text[last:]))
    return Markup("".join(out))


def snippet(text, terms, width=90):
    """A short highlighted excerpt of ``text`` around the first match ('' when nothing matches)."""
    text = " ".join((text or "").split())
    start = analysis.first_match(text, terms) if terms else None
    if start is None:
        return Markup("")
    begin = max(0, start - width // 3)
    piece = text[begin:begin + width]
    prefix = "…" if begin else ""
    suffix = "…" if begin + width < len(text) else ""
    return Markup(escape(prefix)) + highlight(piece, terms) + Markup(escape(suffix))


def _terms(clauses):
    """Every index term a hit may have matched through (for highlighting), alternatives included."""
    terms = set()
    for c in clauses:
        if c.number:
            continue
        parts = [Clause([w]) for w in c.words] if c.loose else [c]
        parts += [Clause(list(alt), phrase=len(alt) > 1) for alt in c.alternatives]
        terms.update(w for part in parts for variant in clause_variants(part) for w in variant)
    return terms


# --- running a search -------------------------------------------------------------

# Plain SQL for the two per-request reads: the ORM's statement building costs more than the queries.
_PUBLISHED_ROWS = sql(
    "SELECT l.id, l.title, l.kind, l.grade, l.price, l.currency, l.price_mode, l.region, l.description, "
    "l.deal_types, l.deal_prices, "
    "a.current_price, a.start_price, a.bid_count, a.ends_at, a.closed_at, "
    "EXISTS (SELECT 1 FROM open_licences o WHERE o.listing_id = l.id AND o.status = 'open') AS open_licence "
    "FROM listings l LEFT JOIN auctions a ON a.listing_id = l.id "
    "WHERE l.status = 'published' AND l.id IN :ids"
).bindparams(bindparam("ids", expanding=True))
_RIGHTS = sql(  # the rights' texts (snippets), the first right's spec line (number, status, category, term), holders
    "SELECT lr.listing_id, lr.right_id, r.title, r.abstract, r.kind, r.number, r.patent_type, r.legal_status, "
    "r.tm_status, r.filing_date, r.registration_date, r.ipc_codes, r.locarno_class, r.nice_classes, h.name AS holder "
    "FROM listing_rights lr JOIN rights r ON r.id = lr.right_id LEFT JOIN right_holders h ON h.right_id = lr.right_id "
    "WHERE lr.listing_id IN :ids ORDER BY lr.listing_id, lr.position, lr.right_id, h.position"
).bindparams(bindparam("ids", expanding=True))


def _load_published(ids):
    """{id: row} of those ``ids`` that the database still calls published (one query)."""
    if not ids:
        return {}
    return {row.id: row for row in db.session.execute(_PUBLISHED_ROWS, {"ids": list(ids)})}




_MARKDOWN = re.compile(r"[*_`#>\[\]]+")
_LIST_MARKER = re.compile(r"(?m)^[ \t]*(?:[-+*]|\d+[.)])[ \t]+")


def plain_text(markdown):
    """A description's words without Markdown punctuation (list markers, emphasis, headings, brackets).

    Not ``listings.service.plain_text``: that one renders the Markdown and strips the HTML (exact,
    about 0.6 ms a description), which twenty results a page would add to every search; this is
    regular expressions (about 0.01 ms). A link keeps its URL in brackets here.
    """
    return _MARKDOWN.sub("", _LIST_MARKER.sub("", (markdown or "")[:MAX_PLAIN_CHARS])).strip()


def _rights(ids):
    """({listing id: [right titles and abstracts]}, {listing id: {number, status, category, term_end, rights}} from
    the listing's first right, {listing id: [holder names (权利人), each once]}): one query for the three (issue
    18, what every search request pays; the holders were a query of their own until session 8). A right with
    several holders comes as several rows, one after the other."""
    texts, out, names = {}, {}, {}
    last = None
    for row in db.session.execute(_RIGHTS, {"ids": list(ids)}):
        if row.holder is not None:
            names.setdefault(row.listing_id, {})[row.holder] = None
        if (row.listing_id, row.right_id) == last:
            continue  # the same right's next holder
        last = (row.listing_id, row.right_id)
        texts.setdefault(row.listing_id, []).extend(t for t in (row.title, row.abstract) if t)
        if row.listing_id in out:
            out[row.listing_id]["rights"] += 1
            continue
        status = row.legal_status if row.kind == "patent" else row.tm_status
        # From the row's values (a transient ``Right`` to ask cost ~20 µs of ORM instrumentation a result)
        ends = None if status == "pending" else term_end(row.kind, row.patent_type, _as_date(row.filing_date),
                                                          _as_date(row.registration_date))
        ipc = _as_list(row.ipc_codes)
        out[row.listing_id] = {
            "number": row.number, "status": status, "patent_type": row.patent_type,
            "ipc": ipc[0] if ipc else None, "locarno": row.locarno_class, "nice_classes": _as_list(row.nice_classes),
            "term_end": ends.isoformat() if ends else None, "rights": 1}
    return texts, out, {k: list(v) for k, v in names.items()}


def _as_date(value):
    return date.fromisoformat(value[:10]) if isinstance(value, str) else value


_UNREADABLE = object()


@functools.lru_cache(maxsize=4096)
def _decoded(text):
    """``json.loads`` of a JSON column's text, kept for the last few thousand texts: the same deal types, IPC
    lists and Nice classes recur on every page (about 3 µs a value, four values a result; issue 18). Lists come
    back as tuples and objects read-only, so no caller can change what the next one gets."""
    try:
        value = json.loads(text)
    except ValueError:
        return _UNREADABLE
    if isinstance(value, list):
        return tuple(value)
    if isinstance(value, dict):
        return MappingProxyType(value)
    return value


def _as_list(value):
    if isinstance(value, str):
        value = _decoded(value)
        if value is _UNREADABLE:
            return []
    return list(value or [])


def _iso_utc(value):
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def _json_value(value):
    """A JSON column read by raw SQL: already decoded (PostgreSQL) or text (SQLite); read-only."""
    if isinstance(value, str):
        value = _decoded(value)
        return None if value is _UNREADABLE else value
    return value


def result_json(row, terms, right_texts=(), holders=(), first=None):
    price = row.price
    if row.price_mode == "auction" and row.start_price is not None:
        price = row.current_price or row.start_price
    description = plain_text(row.description)
    if row.title and description.startswith(row.title):
        description = description[len(row.title):]  # many descriptions repeat the title: show what is new
    body = " ".join([description] + [t for t in right_texts if t != row.title])
    return {
        "id": row.id,
        "title": row.title,
        "kind": row.kind,
        "grade": row.grade,
        "price": price,
        "currency": row.currency,
        "price_mode": row.price_mode,
        # each deal type at its own price, when they differ (转让 ¥26万 · 普通许可 ¥5万); [] when ``price`` says it all
        "prices": [{"deal_type": d, "price": p} for d, p in prices_by_deal_type(
            row.price_mode, _json_value(row.deal_types), _json_value(row.deal_prices), row.price)],
        "region": row.region,
        "highlight": str(highlight(row.title, terms)),
        "snippet": str(snippet(body, terms)),
        "holders": list(holders),
        "open_licence": bool(row.open_licence),  # the badge (issue 16)
        "url": f"/listings/{row.id}",
        **({"number": first["number"], "right_status": first["status"], "patent_type": first["patent_type"],
            "ipc": first["ipc"], "locarno": first["locarno"], "nice_classes": first["nice_classes"],
            "term_end": first["term_end"], "rights_count": first["rights"]} if first else {}),
        **({"bid_count": row.bid_count or 0, "ends_at": _iso_utc(row.ends_at),
            "auction_closed": row.closed_at is not None} if row.price_mode == "auction" and row.start_price else {}),
    }


@SEARCH_SECONDS.time()
def search(params, *, with_facets=True, handle=None):
    """Run a search. Hits come from the index and are re-checked against the database.

    The words are expanded with synonyms and translations (``search.synonyms``; listed in
    ``also_searched``). When several words match nothing together, the listings matching the most
    of them are shown instead, flagged ``partial`` (部分匹配).
    """
    handle = handle or current_handle()
    parsed = parse_query(params.q)
    if only_stop_words(params.q, parsed):
        page = SearchPage(params=params, total=0, results=[], facets=_empty_facets())
        page.notice = _("“%(q)s”只有常用词或标点，请输入更具体的关键词，例如技术名称、产品或商标名。", q=params.q)
        return page
    clauses, also = synonyms.expand(parsed)  # before stop words go: "internet of things" is one glossary term
    clauses = drop_stop_words(clauses)
    page = _run(params, clauses, handle, with_facets)
    page.also_searched = also
    text_clauses = [c for c in clauses if not c.number]
    if page.total == 0 and len(clauses) > 1 and text_clauses:
        # Bounded: a 200-character query can hold ~100 words; the OR of the first few is enough to rank by.
        partial = _run(params, clauses[:MAX_PARTIAL_CLAUSES], handle, with_facets, match_any=True)
        if partial.total:
            partial.also_searched, partial.partial = also, True
            partial.suggestions = suggestions(params, clauses, handle)
            return partial
    if page.total == 0 and (clauses or params.filters()):
        page.suggestions = suggestions(params, clauses, handle)
    return page


def _empty_facets():
    return {"kind": {}, "grade": {}, "nice_class": {}, "ipc_section": {}, "deal_type": {}}


def _run(params, clauses, handle, with_facets, match_any=False):
    terms = _terms(clauses)
    sort = params.sort
    if sort == "relevance" and not clauses:
        sort = "newest"  # browsing: nothing to rank by
    offset = (params.page - 1) * params.per_page
    # Fetch a page and a spare page: hits the database no longer calls published are dropped and the gap filled.
    found = query_index(handle, index_query(params, clauses, match_any=match_any), sort=sort, offset=offset,
                        limit=params.per_page * 2, facets=with_facets)
    live = _load_published(found.ids)
    stale = [i for i in found.ids if i not in live]
    ordered = [live[i] for i in found.ids if i in live][: params.per_page]
    texts, firsts, holders = _rights([row.id for row in ordered]) if ordered else ({}, {}, {})
    results = [result_json(row, terms, texts.get(row.id, ()) if terms else (), holders.get(row.id, ()),
                           firsts.get(row.id)) for row in ordered]
    total = found.total - len(stale)
    if results:
        total = max(total, offset + len(results))
    return SearchPage(params=params, total=total, results=results, facets=found.facets or {})


def suggestions(params, clauses, handle, limit=4):
    """When nothing matches: nearby searches that do find something, with their counts.

    Tried in order: the same words without the filters; each word (or phrase) alone with the
    filters; each alone without them.
    """
    out, seen = [], set()

    def clause_text(clause):
        text = clause.text or ("".join(clause.words) if not clause.loose else " ".join(clause.words))
        return '"' + text + '"' if clause.phrase else text

    plain = SearchParams(q=params.q, sort=params.sort, per_page=params.per_page)
    candidates = []
    if params.filters():
        candidates.append(("drop_filters", None, plain, clauses))
    if len(clauses) > 1:
        for clause in clauses:
            candidates.append(("fewer_words", clause_text(clause), params, [clause]))
        if params.filters():
            for clause in clauses:
                candidates.append(("fewer_words_no_filters", clause_text(clause), plain, [clause]))
    for kind, text, base, subset in candidates:
        args = base.args(q=text, page=None) if text is not None else base.args(page=None)
        key = tuple(sorted(args.items()))
        if key in seen:
            continue
        seen.add(key)
        n = query_index(handle, index_query(base, subset), limit=1, facets=False).total
        if n:
            out.append({"kind": kind, "text": text, "args": args, "count": n})
        if len(out) >= limit:
            break
    return out


def page_json(page):
    return {
        "total": page.total,
        "page": page.params.page,
        "per_page": page.params.per_page,
        "results": page.results,
        "facets": page.facets,
        "also_searched": page.also_searched,
        "partial": page.partial,
        "notice": page.notice,
    }


# --- saved searches ---------------------------------------------------------------

def save_search(user, q, filters):
    """Save ``q`` and ``filters`` (validated like a search) for ``user``; an identical one is returned as is."""
    from .schemas import SavedSearchInput  # the API's body schema: one reading of a saved search's types and keys

    if filters is None:
        filters = {}
    try:
        SavedSearchInput().load({"q": q, "filters": filters})
    except SchemaError as exc:
        raise ValidationError(_("保存的搜索条件有误"), flat_errors(exc.messages)) from None
    control = {key: _("不能包含换行、制表符等控制字符") for key, value in
               [("q", q), *((f"filters.{k}", v) for k, v in filters.items())]
               if isinstance(value, str) and has_control_chars(value)}
    if control:
        raise ValidationError(_("保存的搜索条件含有控制字符"), control)
    args = {k: v for k, v in filters.items() if v not in (None, "")}
    args = {k: (",".join(map(str, v)) if isinstance(v, list) else str(v)) for k, v in args.items()}
    args["q"] = q or ""
    try:
        params = parse_params(args)
    except ValidationError as exc:
        raise ValidationError(_("保存的搜索条件有误"), {(k if k == "q" else f"filters.{k}"): v
                                                 for k, v in exc.fields.items()}) from exc
    clean = params.filters()
    for row in db.session.query(SavedSearch).filter_by(user_id=user.id, q=params.q):
        if (row.filters or {}) == clean:
            return row
    cap = current_app.config.get("MAX_SAVED_SEARCHES", 20)
    if db.session.query(SavedSearch).filter_by(user_id=user.id).count() >= cap:
        raise Conflict(_("最多保存 %(n)s 条搜索，请先删除不再需要的", n=cap))
    row = SavedSearch(user_id=user.id, q=params.q, filters=clean)
    db.session.add(row)
    db.session.flush()
    return row


def saved_searches_for(user):
    return (db.session.query(SavedSearch).filter_by(user_id=user.id)
            .order_by(SavedSearch.created_at.desc(), SavedSearch.id.desc()).all())


def delete_saved_search(user, saved_id):
    row = db.session.get(SavedSearch, saved_id)
    if row is None or row.user_id != user.id:
        raise NotFound(_("没有这条保存的搜索"))
    db.session.delete(row)
    db.session.flush()


def saved_search_json(row):
    return {"id": row.id, "q": row.q, "filters": row.filters or {}, "created_at": iso(row.created_at)}


def saved_search_params(row):
    args = dict(row.filters or {})
    args["q"] = row.q or ""
    return parse_params(args)
