"""The Whoosh index: schema, Chinese/English analyzer, outbox sync, queries, facets, saved searches."""
