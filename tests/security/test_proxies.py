"""Behind a reverse proxy: ``TRUSTED_PROXIES`` hops of X-Forwarded-For are believed, so rate limits key on the
real client address; without it the header is ignored (a client cannot pick its own address). And rate limits
kept in process memory under several workers are announced in the log (they count per worker)."""
import logging
import uuid

import pytest

from marketplace import create_app
from marketplace.kernel.config import configured_workers, per_worker_limits_warning
from tests.conftest import _base_config

PROXY = "10.0.0.1"
WRONG = {"email": "nobody@example.com", "password": "wrong-password-1"}


def _limited_app_config(hops):
    return {"RATELIMIT_ENABLED": True, "RATELIMIT_STORAGE_URI": "memory://", "RATELIMIT_LOGIN": "2/minute",
            "RATELIMIT_KEY_PREFIX": f"proxy-{uuid.uuid4().hex[:12]}", "TRUSTED_PROXIES": hops}


def _sign_in_statuses(app, n, forwarded_for, remote=PROXY):
    client = app.test_client()
    return [client.post("/login", data=WRONG, environ_base={"REMOTE_ADDR": remote},
                        headers={"X-Forwarded-For": forwarded_for} if forwarded_for else {}).status_code
            for _ in range(n)]


class TestBehindOneProxy:
    @pytest.fixture
    def app_config(self):
        return _limited_app_config(1)

    def test_each_client_behind_the_proxy_has_its_own_budget(self, app):
        assert _sign_in_statuses(app, 3, "203.0.113.7") == [200, 200, 429]
        assert _sign_in_statuses(app, 2, "203.0.113.8") == [200, 200], "another client is not refused"

    def test_a_forged_address_left_of_the_proxys_own_entry_is_ignored(self, app):
        assert _sign_in_statuses(app, 2, "203.0.113.7") == [200, 200]
        # the client sends "X-Forwarded-For: <made up>"; the proxy appends the address it saw
        assert _sign_in_statuses(app, 1, "198.51.100.99, 203.0.113.7") == [429]

    def test_the_client_address_and_scheme_come_from_the_proxy(self, app):
        seen = {}

        @app.get("/_test/whoami")
        def whoami():
            from flask import request

            seen.update(addr=request.remote_addr, scheme=request.scheme)
            return "ok"

        app.test_client().get("/_test/whoami", environ_base={"REMOTE_ADDR": PROXY},
                              headers={"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"})
        assert seen == {"addr": "203.0.113.7", "scheme": "https"}


class TestWithoutTrustedProxies:
    @pytest.fixture
    def app_config(self):
        return _limited_app_config(0)

    def test_x_forwarded_for_is_ignored_by_default(self, app):
        assert app.config["TRUSTED_PROXIES"] == 0
        # a client that makes up a new address for each try still shares one budget: its own
        statuses = [_sign_in_statuses(app, 1, f"203.0.113.{n}", remote="192.0.2.5")[0] for n in range(3)]
        assert statuses == [200, 200, 429]


def test_trusted_proxies_is_read_from_the_environment(tmp_path, monkeypatch):
    from marketplace.kernel.config import load_settings

    monkeypatch.setenv("SECRET_KEY", "x")
    monkeypatch.delenv("TRUSTED_PROXIES", raising=False)
    assert load_settings(tmp_path)["TRUSTED_PROXIES"] == 0
    monkeypatch.setenv("TRUSTED_PROXIES", "2")
    assert load_settings(tmp_path)["TRUSTED_PROXIES"] == 2


@pytest.mark.parametrize("environ,argv,expected", [
    ({}, ["pytest"], None),
    ({"WEB_CONCURRENCY": "4"}, ["pytest"], 4),
    ({"GUNICORN_CMD_ARGS": "--bind 0.0.0.0:8000 -w 3"}, ["pytest"], 3),
    ({"GUNICORN_CMD_ARGS": "--workers=5"}, ["pytest"], 5),
    ({}, ["/usr/bin/gunicorn", "-w", "4", "-b", "0.0.0.0:8000", "wsgi:app"], 4),
    ({}, ["/venv/bin/gunicorn", "--workers", "2", "wsgi:app"], 2),
    ({}, ["gunicorn", "-w8", "wsgi:app"], 8),
    ({"WEB_CONCURRENCY": "6"}, ["gunicorn", "-w", "2", "wsgi:app"], 2),
    ({"WEB_CONCURRENCY": "many"}, ["flask"], None),
    ({}, ["flask", "-w", "4"], None),  # only gunicorn's own command line counts
])
def test_the_number_of_workers_is_found_where_gunicorn_takes_it(environ, argv, expected):
    assert configured_workers(environ, argv) == expected


@pytest.mark.parametrize("config,environ,warns", [
    ({"RATELIMIT_STORAGE_URI": "memory://"}, {"WEB_CONCURRENCY": "4"}, True),
    ({"RATELIMIT_STORAGE_URI": "memory://"}, {"GUNICORN_CMD_ARGS": "-w 2"}, True),
    ({"RATELIMIT_STORAGE_URI": "memory://"}, {"WEB_CONCURRENCY": "1"}, False),
    ({"RATELIMIT_STORAGE_URI": "memory://"}, {}, False),
    ({"RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379"}, {"WEB_CONCURRENCY": "4"}, False),
    ({"RATELIMIT_STORAGE_URI": "memory://", "RATELIMIT_ENABLED": False}, {"WEB_CONCURRENCY": "4"}, False),
])
def test_per_worker_limits_are_warned_about(config, environ, warns):
    message = per_worker_limits_warning(config, environ, ["pytest"])
    assert bool(message) is warns
    if warns:
        assert "per worker" in message or "counts on its own" in message


def test_the_app_logs_the_warning_at_start(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("WEB_CONCURRENCY", "4")
    monkeypatch.delenv("GUNICORN_CMD_ARGS", raising=False)
    config = {**_base_config(tmp_path), "RATELIMIT_ENABLED": True, "RATELIMIT_STORAGE_URI": "memory://"}
    with caplog.at_level(logging.WARNING, logger="marketplace"):
        create_app(config)
    assert any("memory://" in r.getMessage() and "4 workers" in r.getMessage() for r in caplog.records)
    caplog.clear()
    monkeypatch.setenv("WEB_CONCURRENCY", "1")
    with caplog.at_level(logging.WARNING, logger="marketplace"):
        create_app(config)
    assert not any("memory://" in r.getMessage() for r in caplog.records)
