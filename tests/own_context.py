"""A test client whose every request runs in an application context of its own, as under a real server.

The ``app`` fixture keeps an application context open for the test body (setup and assertions). Flask pushes
a new application context for a request only when none of the same app is active, so through the plain
``FlaskClient`` every request reused the test's context: the view shared the test's ``g`` (the signed-in user,
the CSRF token, the language) and its Flask-SQLAlchemy session (whose scope is the application context), saw
the test's uncommitted rows and left the objects it loaded in the test's identity map. Production never does
that: each request gets a fresh ``g`` and session. Here each request runs in an empty ``contextvars`` context,
where no application context is active, so Flask pushes one for the request and pops it (removing its
session) when the request ends; the test's context and ``g`` are untouched.

After each request the objects the test holds are expired (``expire_all`` on the test's own session), so
reading one afterwards reads the row again, as the shared session did at each request's commit or rollback:
an assertion that a refused request changed nothing (``listing.status == "draft"``) reads the database, not
the copy loaded before the request, and cannot pass on a stale object. Not while the test holds changes it has
not flushed (expiring would throw them away): a request never sees those anyway (commit them first, as another
client would have to), and the test keeps them until it commits.
"""
import contextvars

from flask import has_app_context
from flask.testing import FlaskClient

from marketplace.kernel.extensions import db


class OwnContextClient(FlaskClient):
    def open(self, *args, **kwargs):
        response = contextvars.Context().run(super().open, *args, **kwargs)
        if has_app_context():
            session = db.session()
            if not (session.new or session.dirty or session.deleted):
                session.expire_all()
        return response
