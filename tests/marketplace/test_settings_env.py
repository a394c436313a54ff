"""Settings come from the environment (README's table), with the documented defaults when unset."""
from marketplace.config import load_settings


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
