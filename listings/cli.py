"""CLI commands of `listings`."""


def register(app):
    pass
