"""CLI commands of `search`."""


def register(app):
    pass
