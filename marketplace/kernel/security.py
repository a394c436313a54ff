"""Security headers on every response, including a Content-Security-Policy the pages work under.

The pages load only the project's own scripts and styles (no inline script, no CDN),
plus Stripe.js on the pay page when Stripe is enabled.
"""


def content_security_policy(stripe_enabled=False):
    script = "'self'" + (" https://js.stripe.com" if stripe_enabled else "")
    frame = "https://js.stripe.com https://hooks.stripe.com" if stripe_enabled else "'none'"
    return "; ".join([
        "default-src 'self'",
        f"script-src {script}",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'" + (" https://api.stripe.com" if stripe_enabled else ""),
        f"frame-src {frame}",
        "frame-ancestors 'none'",
        "form-action 'self'",
        "base-uri 'self'",
        "object-src 'none'",
    ])


def set_security_headers(app):
    csp = content_security_policy(bool(app.config.get("STRIPE_SECRET_KEY")))
    wanted = [
        ("Content-Security-Policy", csp),
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),
        ("Referrer-Policy", "strict-origin-when-cross-origin"),
        ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
    ]
    if app.config.get("SESSION_COOKIE_SECURE"):
        wanted.append(("Strict-Transport-Security", "max-age=31536000"))

    @app.after_request
    def _headers(response):
        # A view may have set its own (a stricter CSP on one page): those are kept. One pass over the headers
        # rather than a lookup per header (``setdefault`` scans the list twice each time).
        headers = response.headers
        present = {key.lower() for key in headers.keys()}
        for name, value in wanted:
            if name.lower() not in present:
                headers.add(name, value)
        return response
