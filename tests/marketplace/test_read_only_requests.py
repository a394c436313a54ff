"""Views marked ``@read_only`` (marketplace/kernel/readonly.py): on PostgreSQL their GETs read without BEGIN and
ROLLBACK and leave no autocommit connection behind; on every database a write in one is refused and changes
nothing."""
import pytest
from sqlalchemy import select

from marketplace.kernel.extensions import db
from marketplace.kernel.models import User
from marketplace.kernel.readonly import ReadOnlyRequest, read_only
from tests import factories
from tests.conftest import PG_URL


def _autocommit():
    return str(db.session.connection().connection.dbapi_connection.autocommit)


@pytest.fixture
def probes(app):
    """Two views added for the test: one marked read-only, one not; and one marked that (wrongly) writes."""
    app.add_url_rule("/_probe/read-only", "probe_read_only", read_only(lambda: _autocommit()))
    app.add_url_rule("/_probe/plain", "probe_plain", lambda: _autocommit())

    def renames(user_id):
        db.session.get(User, user_id).name = "只读请求里改的名"
        db.session.commit()
        return "written"

    app.add_url_rule("/_probe/renames/<int:user_id>", "probe_renames", read_only(renames))
    db.session.execute(select(1))  # a first connection: the engine knows the server's isolation level from it
    db.session.commit()
    db.session.close()  # as a new request's session: nothing begun yet


@pytest.mark.skipif(not PG_URL, reason="PostgreSQL: SQLite sends no BEGIN for a read")
def test_a_read_only_view_reads_outside_a_transaction_and_the_next_request_has_one(app, client, probes):
    assert client.get("/_probe/read-only").get_data(as_text=True) == "True"
    db.session.close()
    assert client.get("/_probe/plain").get_data(as_text=True) == "False"  # the pool gave the connection back reset
    with db.engine.connect() as conn:
        assert conn.connection.dbapi_connection.autocommit is False
    assert client.post("/_probe/read-only").status_code == 405  # only its GET (and HEAD) are marked


def test_a_write_in_a_read_only_request_is_refused_and_changes_nothing(app, client, probes, caplog):
    user = factories.make_user("buyer")
    db.session.commit()
    user_id, name = user.id, user.name
    db.session.close()
    assert client.get(f"/_probe/renames/{user_id}").status_code == 500
    assert any(r.exc_info and r.exc_info[0] is ReadOnlyRequest for r in caplog.records)
    db.session.rollback()
    assert db.session.scalar(select(User.name).where(User.id == user_id)) == name


def test_the_deal_page_is_read_only(app):
    assert getattr(app.view_functions["escrow.deal_detail"], "read_only", False)
