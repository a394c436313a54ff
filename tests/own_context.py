"""A test client whose every request runs in an application context of its own, as under a real server.

The ``app`` fixture keeps an application context open for the test body (setup and assertions). Flask pushes
a new application context for a request only when none of the same app is active, so through the plain
``FlaskClient`` every request reused the test's context: the view shared the test's ``g`` (the signed-in user,
the CSRF token, the language) and its Flask-SQLAlchemy session (whose scope is the application context), saw
the test's uncommitted rows and left the objects it loaded in the test's identity map. Production never does
that: each request gets a fresh ``g`` and session. Here each request runs in an empty ``contextvars`` context,
where no application context is active, so Flask pushes one for the request and pops it (removing its
session) when the request ends; the test's context, ``g`` and session are untouched. A test sees what a
request changed by reading it again (``db.session.get``, ``refresh``, ``expire_all``), as a second request
would.
"""
import contextvars

from flask.testing import FlaskClient


class OwnContextClient(FlaskClient):
    def open(self, *args, **kwargs):
        return contextvars.Context().run(super().open, *args, **kwargs)
