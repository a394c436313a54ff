"""The Whoosh index: schema, Chinese/English analyzer, outbox sync, queries, facets, saved searches.

Modules: ``analysis`` (tokenizer, number spellings, stop words), ``synonyms`` (query-time synonyms
and the zh↔en glossary, data in ``search/data``; docs/search.md), ``index`` (schema, writes, the query
executor), ``outbox`` (after-commit drain, sync, reindex), ``service`` (search requests, highlights,
saved searches), ``saved`` (notifications), ``api`` / ``views`` (thin), ``cli``.
"""


def setup(app):
    """Per-app settings and one-time process set-up (jieba's dictionary, the after-commit hook)."""
    from . import analysis, outbox  # noqa: F401  (outbox registers the session hooks)

    # SEARCH_* settings are declared with the others in marketplace/kernel/config.py
    analysis.initialise()
