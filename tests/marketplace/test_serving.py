"""A web worker's start-up (marketplace/web/serving.py, gunicorn.conf.py; issue 18/19): the long-lived heap is
frozen out of the cyclic collector's way once the app is loaded, so no request pays a ~120 ms full collection."""
import gc
import runpy
from pathlib import Path
from types import SimpleNamespace

import jieba
import pytest
from flask import Flask

from marketplace.web import serving

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def unfreeze():
    yield
    gc.unfreeze()  # the test process must not keep every object of the suite forever


def test_a_settled_worker_has_its_heap_frozen_and_jiebas_dictionary_loaded(app, unfreeze):
    before = gc.get_freeze_count()
    serving.settle_worker(app)
    frozen = gc.get_freeze_count()
    assert frozen > before + 10_000  # the app, its extensions and templates: out of every collection
    assert jieba.dt.initialized  # loaded before the first search, and frozen with the rest
    garbage = [[]]
    garbage[0].append(garbage)  # a cycle made after settling is still collected
    del garbage
    assert gc.collect() >= 1
    assert gc.get_freeze_count() == frozen


def test_another_wsgi_app_is_frozen_without_loading_the_search_words(monkeypatch, unfreeze):
    loaded = []
    monkeypatch.setattr("search.analysis.initialise", lambda: loaded.append(True))
    serving.settle_worker(Flask("bare"))
    assert gc.get_freeze_count() > 0 and loaded == []


def test_gunicorn_settles_each_worker_after_loading_the_app(monkeypatch):
    """gunicorn reads gunicorn.conf.py from the working directory (the Procfile, systemd, bench, tests' servers);
    its post_worker_init hook runs after the worker loaded the app, before the first request."""
    settled = []
    monkeypatch.setattr(serving, "settle_worker", settled.append)
    settings = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    app = Flask("loaded")
    settings["post_worker_init"](SimpleNamespace(wsgi=app))
    assert settled == [app]
    assert {name for name in settings if not name.startswith("__")} == {"post_worker_init"}  # nothing else
