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

    @app.after_request
    def _headers(response):
        response.headers.setdefault("Content-Security-Policy", csp)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        response.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if app.config.get("SESSION_COOKIE_SECURE"):
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response
