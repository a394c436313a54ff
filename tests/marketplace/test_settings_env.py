"""Settings come from the environment (README's table), with the documented defaults when unset."""
from marketplace.kernel.config import load_settings


def test_rate_limits_are_read_from_the_environment(tmp_path, monkeypatch):
    for name in ("RATELIMIT_LOGIN", "RATELIMIT_REGISTER", "RATELIMIT_BID", "RATELIMIT_OFFER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SECRET_KEY", "x")
    defaults = load_settings(tmp_path)
    assert (defaults["RATELIMIT_LOGIN"], defaults["RATELIMIT_REGISTER"], defaults["RATELIMIT_BID"],
            defaults["RATELIMIT_OFFER"]) == ("10/minute;50/hour", "5/minute;30/hour", "30/minute", "10/minute")
    monkeypatch.setenv("RATELIMIT_LOGIN", "3/minute")
    monkeypatch.setenv("RATELIMIT_BID", "100/minute")
    settings = load_settings(tmp_path)
    assert settings["RATELIMIT_LOGIN"] == "3/minute" and settings["RATELIMIT_BID"] == "100/minute"
    assert settings["RATELIMIT_REGISTER"] == "5/minute;30/hour"


# --- configuration hygiene (issue 20) ------------------------------------------------------------

import ast  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from marketplace import create_app  # noqa: E402
from tests.factories import code_packages  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def _clean_env(monkeypatch):
    for name in ("DATABASE_URL", "SECRET_KEY", "AUTO_MIGRATE", "SEARCH_SYNC_ON_COMMIT", "SEARCH_WRITER_TIMEOUT",
                 "SEARCH_OUTBOX_GAP_SECONDS", "SEARCH_MAX_EXPANSIONS", "STRIPE_TIMEOUT_SECONDS",
                 "STRIPE_MAX_NETWORK_RETRIES"):
        monkeypatch.delenv(name, raising=False)


def test_every_setting_is_declared_with_its_default(tmp_path, monkeypatch):
    _clean_env(monkeypatch)
    settings = load_settings(tmp_path)
    assert (settings["SEARCH_SYNC_ON_COMMIT"], settings["SEARCH_WRITER_TIMEOUT"], settings["SEARCH_OUTBOX_GAP_SECONDS"],
            settings["SEARCH_MAX_EXPANSIONS"], settings["STRIPE_TIMEOUT_SECONDS"],
            settings["STRIPE_MAX_NETWORK_RETRIES"]) == (True, 2.0, 30, 8, 20.0, 2)
    monkeypatch.setenv("SEARCH_SYNC_ON_COMMIT", "0")
    monkeypatch.setenv("STRIPE_TIMEOUT_SECONDS", "5")
    monkeypatch.setenv("SEARCH_MAX_EXPANSIONS", "999")
    settings = load_settings(tmp_path)
    assert settings["SEARCH_SYNC_ON_COMMIT"] is False and settings["STRIPE_TIMEOUT_SECONDS"] == 5.0
    assert settings["SEARCH_MAX_EXPANSIONS"] == 32  # bounded


def test_the_embedded_default_keeps_its_own_key_and_migrates_on_start(tmp_path, monkeypatch):
    _clean_env(monkeypatch)
    first, second = load_settings(tmp_path), load_settings(tmp_path)
    assert first["SECRET_KEY"] and first["SECRET_KEY"] == second["SECRET_KEY"]
    assert first["AUTO_MIGRATE"] is True


def test_a_shared_database_needs_a_secret_key_and_migrates_as_a_deploy_step(tmp_path, monkeypatch):
    _clean_env(monkeypatch)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'shared.sqlite3'}")
    settings = load_settings(tmp_path)
    assert settings["SECRET_KEY"] is None and settings["AUTO_MIGRATE"] is False
    assert not (tmp_path / "secret_key").exists()  # no key made up for one host only
    with pytest.raises(RuntimeError, match="SECRET_KEY must be set"):
        create_app({"INSTANCE_PATH": str(tmp_path)})
    monkeypatch.setenv("SECRET_KEY", "shared-by-every-host")
    app = create_app({"INSTANCE_PATH": str(tmp_path)})
    assert app.config["SECRET_KEY"] == "shared-by-every-host" and app.config["AUTO_MIGRATE"] is False
    monkeypatch.setenv("AUTO_MIGRATE", "1")
    assert load_settings(tmp_path)["AUTO_MIGRATE"] is True


def test_the_test_gateway_is_refused_outside_the_test_suite(app):
    from escrow.gateways import get_gateway

    with app.app_context():
        assert get_gateway("fake_stripe").name == "fake_stripe"
        app.testing = False
        try:
            with pytest.raises(RuntimeError, match="test suite only"):
                get_gateway("fake_stripe")
        finally:
            app.testing = True


def test_no_setting_is_read_at_import_time():
    """Module-level code never reads the environment: settings come from config.load_settings, per app."""
    found = []
    for pkg in code_packages():
        for path in (ROOT / pkg).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            inside = {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
                      for n in ast.walk(f)}
            for node in ast.walk(tree):
                if (isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv")
                        and getattr(node.value, "id", "") == "os" and id(node) not in inside):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not found, found
