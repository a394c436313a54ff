"""The crash tests are slow (a gunicorn server, thousands of requests, workers killed): they run only
with ``RUN_SLOW=1`` (``.ci/extra`` sets it), on PostgreSQL (``TEST_DATABASE_URL``)."""
import os
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config, items):
    if os.environ.get("RUN_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow: run with RUN_SLOW=1 (as .ci/extra does)")
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(skip)
