def test_healthz(client):
    r = client.get("/healthz")
    assert r.status_code == 200 and r.get_json() == {"status": "ok"}


def test_home_renders_in_chinese(client):
    r = client.get("/")
    assert r.status_code == 200
    assert "知产超市" in r.get_data(as_text=True)
