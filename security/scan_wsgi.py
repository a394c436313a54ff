"""The app as the security scans run it: production settings, but no rate limits.

sqlmap and schemathesis send thousands of requests from one address; with the sign-in limit
(10 a minute) they would test the limiter instead of the routes behind it. The limits have
their own tests (tests/security/test_rate_limits.py).
"""
from marketplace import create_app

app = create_app({"RATELIMIT_ENABLED": False})
