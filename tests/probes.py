"""Probes: read the state a request could change, to compare before and after it.

The permission matrix (tests/security/test_permission_matrix.py) pairs each route with a probe of
what it would change; a refusal must leave the probe's reading as it was. The same probes serve the
tests of single refusals elsewhere: ``count`` and ``reread`` for one table or row, and
``nothing_changes`` for "this request changed no row of any table".
"""
from contextlib import contextmanager

from sqlalchemy import func, select

from marketplace.kernel.extensions import db


def count(model, *where):
    """How many rows of ``model`` match ``where``, read afresh from the database."""
    db.session.expire_all()
    return db.session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def reread(model, attr):
    """A matrix probe ``(w, obj, user) -> obj.attr`` as the database now holds it."""
    def probe(w, obj, user):
        db.session.expire_all()
        return getattr(db.session.get(model, obj.id), attr)
    return probe


# Tests sign API calls with tokens made on the spot (tests.factories.auth_header), and a request stamps its
# token's last use: neither is an effect of the request under test. (Issuing tokens is tested on its own.)
BOOKKEEPING = frozenset({"api_tokens"})


def db_state(ignore=BOOKKEEPING):
    """Every row of every table but ``ignore``, as sorted text: equal before and after a request that changed
    nothing."""
    db.session.expire_all()
    state = {}
    for table in db.metadata.sorted_tables:
        if table.name not in ignore:
            state[table.name] = sorted(repr(tuple(row)) for row in db.session.execute(select(table)).all())
    return state


@contextmanager
def nothing_changes(ignore=BOOKKEEPING):
    """``with nothing_changes(): client.post(...)`` fails if the block changed any row of any table."""
    db.session.commit()  # what the test set up is the state to keep
    before = db_state(ignore)
    yield
    after = db_state(ignore)
    changed = {name: (before[name], after[name]) for name in before if before[name] != after[name]}
    assert not changed, "the refused request changed " + "; ".join(
        f"{name}: {len(old)} rows → {len(new)} rows, new {sorted(set(new) - set(old))[:3]}"
        for name, (old, new) in changed.items())
