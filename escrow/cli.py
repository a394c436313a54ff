"""CLI commands of `escrow`."""


def register(app):
    pass
