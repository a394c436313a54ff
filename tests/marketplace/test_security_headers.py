def test_security_headers_on_pages_and_api(client):
    for url in ("/", "/login", "/api/v1/openapi.json", "/healthz"):
        r = client.get(url)
        csp = r.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["X-Frame-Options"] == "DENY"


def test_pages_have_no_inline_script_or_style(client):
    html = client.get("/login").get_data(as_text=True)
    assert "<script>" not in html and " style=" not in html
