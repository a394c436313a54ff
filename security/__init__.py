"""Security scans (sqlmap, schemathesis) and the app they run against; see docs/security.md."""
