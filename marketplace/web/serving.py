"""What a web worker does once, after gunicorn has loaded the app and before it takes a request (issue 18/19,
docs/performance.md "Pages", session 9). Called from ``gunicorn.conf.py`` (``post_worker_init``), which gunicorn
reads from the working directory: the Procfile, the systemd unit, the benches and the tests' servers all start
it there.

**The long-lived heap out of the garbage collector's way.** A worker holds ~210,000 container objects that live
as long as it does (the app, its blueprints, SQLAlchemy's mappers, Jinja's templates, jieba's dictionary). CPython's
cyclic collector walks all of them in every full (oldest-generation) collection, which comes every few hundred
requests: **~120 ms** on this machine, paid by whichever request happened to allocate the object that triggered
it (seen in the search bench at 100,000 listings as a 115–150 ms query whose own work is ~10 ms). ``gc.freeze()``
moves every object alive at that moment to a permanent generation the collector never walks; what requests
allocate later is collected as before. Objects frozen are never freed, so it is done once, before the first
request, when everything alive belongs to the worker for good — never in the middle of a request, whose garbage
would then be kept forever. The words' dictionary that jieba loads on a worker's first search is loaded here
first, so it is frozen with the rest (and the first search no longer waits ~1 s for it).

**The search index opened and warmed** (``IndexHandle.warm``): the searcher's column arrays and the postings of
each text field's most frequent words, which the worker's first queries would otherwise read one by one.
"""
import gc

from flask import Flask


def settle_worker(app):
    """Load what the worker would load on its first search, then freeze the heap (see above). ``app`` may be
    another WSGI app (the benches' bare Flask): it is frozen alike."""
    if isinstance(app, Flask) and "SEARCH_INDEX_PATH" in app.config:
        from search.analysis import initialise
        from search.storage import handle_for

        initialise()
        handle_for(app.config["SEARCH_INDEX_PATH"]).warm()
    gc.collect()  # garbage of the start-up is freed, not frozen
    gc.freeze()
