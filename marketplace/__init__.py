"""IP Mart (知产超市).

``marketplace.kernel``: what every package builds on (extensions, settings, errors, money and numbers, time,
translations and labels, accounts and their models, notifications, credit, uploads, audit, jobs, metrics,
the page cache); it imports no domain package. ``marketplace.web``: the app shell (the factory, the
storefront, the operator console, statistics, OpenAPI, the CLI); it imports the domain packages, which import
only the kernel. docs/architecture.md draws the graph.
"""


def __getattr__(name):
    # ``create_app`` is re-exported here because Flask's CLI (``flask --app marketplace``) and wsgi.py look for a
    # factory named create_app in the package they are given. It is looked up on first use (PEP 562), not
    # imported with the package: importing marketplace.kernel must not load the shell and the domain packages.
    if name == "create_app":
        from .web.app import create_app

        return create_app
    raise AttributeError(f"module 'marketplace' has no attribute {name!r}")
