"""The "nothing changed" probe (tests/probes.py) itself: it sees a changed, added or removed row."""
import pytest

from marketplace.kernel.extensions import db
from tests import factories
from tests.probes import nothing_changes


def test_nothing_changes_sees_every_kind_of_change(app):
    user = factories.make_user("buyer")
    with nothing_changes():
        db.session.expire_all()
    for act in (lambda: setattr(user, "name", "改过的名字"), lambda: factories.make_user("seller"),
                lambda: db.session.delete(user)):
        with pytest.raises(AssertionError, match="changed"), nothing_changes():
            act()
            db.session.commit()
