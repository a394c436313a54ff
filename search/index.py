"""The search index, as the rest of the code sees it: a facade over four modules (issue 20).

* ``search.schema``: the Whoosh schema, the column fields and ``listing_document`` (what a listing looks
  like to the index);
* ``search.storage``: the index folder (``IndexHandle``: opening, writing under a lock with a timeout,
  the long-lived searcher), ``add_to_index`` / ``remove_from_index``;
* ``search.executor``: queries (``IndexQuery``, ``query_index``): matching, BM25, phrases, filters, facets
  and sorting as numpy array operations;
* ``search.whoosh_reader``: the only module that reads Whoosh's private internals (posting blocks, columns,
  length bytes), behind a few functions; Whoosh is pinned in requirements.txt and
  ``tests/search/test_whoosh_reader.py`` fails when the internals it reads change.

Hidden behind a few functions (``add_to_index``, ``remove_from_index``, ``query_index``) as in microblog.
Numbers in docs/performance.md.
"""
from .executor import (  # noqa: F401 - re-exported
    BM25_B,
    BM25_K1,
    COORDINATION_BONUS,
    EXACT_BONUS,
    MAX_VARIANTS,
    SORTS,
    SYNONYM_WEIGHT,
    Clause,
    Filters,
    IndexQuery,
    IndexResult,
    Snapshot,
    clause_variants,
    query_index,
)
from .schema import (  # noqa: F401 - re-exported
    COLUMN_FIELDS,
    FIELD_BOOSTS,
    GRADES,
    IPC_SECTIONS,
    NICE_CLASSES,
    REGION_CODES,
    build_schema,
    is_searchable,
    listing_document,
    listing_price,
    normalise_ipc,
)
from .storage import (  # noqa: F401 - re-exported
    IndexBusy,
    IndexHandle,
    add_to_index,
    current_handle,
    handle_for,
    remove_from_index,
)
