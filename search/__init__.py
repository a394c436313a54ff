"""The Whoosh index: schema, Chinese/English analyzer, outbox sync, queries, facets, saved searches.

Modules: ``analysis`` (tokenizer, number spellings, stop words), ``synonyms`` (query-time synonyms
and the zh↔en glossary, data in ``search/data``; docs/search.md), ``index`` (schema, writes, the query
executor), ``outbox`` (after-commit drain, sync, reindex), ``service`` (search requests, highlights,
saved searches), ``saved`` (notifications), ``api`` / ``views`` (thin), ``cli``.
"""


def setup(app):
    """Per-app settings and one-time process set-up (jieba's dictionary, the after-commit hook)."""
    import os

    from . import analysis, outbox  # noqa: F401  (outbox registers the session hooks)

    app.config.setdefault("SEARCH_SYNC_ON_COMMIT", os.environ.get("SEARCH_SYNC_ON_COMMIT", "1") == "1")
    app.config.setdefault("SEARCH_WRITER_TIMEOUT", float(os.environ.get("SEARCH_WRITER_TIMEOUT", "2")))
    app.config.setdefault("SEARCH_OUTBOX_GAP_SECONDS", 30)
    # Synonym/translation terms one query may add (docs/search.md); 0 turns expansion off. At most 32.
    app.config.setdefault("SEARCH_MAX_EXPANSIONS", min(32, max(0, int(os.environ.get("SEARCH_MAX_EXPANSIONS", "8")))))
    analysis.initialise()
