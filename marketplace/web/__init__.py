"""The app shell: the application factory (app.py), the storefront, the operator console, statistics,
OpenAPI, the CLI. It may import the domain packages and the kernel; nothing imports it but wsgi.py,
the tests and ``marketplace.create_app``."""
