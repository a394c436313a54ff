"""The one commit boundary of the HTML views (the API's is ``apiutil.commit_after``).

A view's work runs inside ``act`` (or a view wears ``@committed``): it commits once when the work
returns; any error rolls the session back. A ``DomainError`` is then shown the one way every page shows a
refusal (``show_error``) and answered by the view's ``refused(exc)`` (a redirect back, or the page again
with its status); a ``NotFound`` that names no field is the 404 page (the app's DomainError handler), as is
any refusal of a view that gives no ``refused``. Services never commit; a view commits by hand only where
a row must be saved before a gateway is asked or mail is sent (no such call inside a locked transaction),
and says so where it does.
"""
import functools

from flask import flash, redirect

from .errors import DomainError, NotFound
from .extensions import db


def show_error(exc, inline_fields=False):
    """Flash a refusal: its message, then what it says of each field unless the page shows those beside the
    fields themselves (``inline_fields``)."""
    parts = [exc.message] if inline_fields else [exc.message, *map(str, exc.fields.values())]
    flash(" ".join(parts), "error")


def act(work, refused=None, inline_fields=False, done=None):
    """Run ``work()`` at the commit boundary and return its result (a response), flashing ``done`` once
    committed; on a refusal roll back, show it and return ``refused(exc)``."""
    try:
        result = work()
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        if refused is None or (isinstance(exc, NotFound) and not exc.fields):
            raise
        show_error(exc, inline_fields)
        return refused(exc)
    except BaseException:
        db.session.rollback()
        raise
    if done:
        flash(done, "success")
    return result


def committed(refused=None, inline_fields=False):
    """``act`` as a view decorator (put it under the route and login decorators): ``refused(exc, **view_args)``
    answers a refusal."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            answer = None if refused is None else (lambda exc: refused(exc, **kwargs))
            return act(lambda: view(*args, **kwargs), answer, inline_fields)

        return wrapper

    return decorate


def act_then_redirect(call, done, url):
    """The common action: ``call()`` at the boundary (``done``: the message once committed), then back to
    ``url`` whether it was done or refused."""

    def work():
        call()
        return redirect(url)

    return act(work, lambda exc: redirect(url), done=done)
