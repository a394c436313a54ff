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

from flask import flash, redirect, request, session

from .errors import DomainError, ValidationError
from .extensions import db


def show_error(exc, show="all"):
    """Flash a refusal: its message, then what it says of each field; ``show="message"`` where the page draws
    the fields' messages beside the fields themselves."""
    flash(exc.message if show == "message" else refusal_text(exc), "error")


def show_in_form(form, exc):
    """A refusal shown in a WTForms form: each field's reason beside that field (above the form where the form
    has no such field), the message above the form."""
    for key, message in exc.fields.items():
        field = getattr(form, key, None)
        if field is not None and hasattr(field, "errors"):
            field.errors = list(field.errors) + [str(message)]
        elif str(message) not in form.form_errors:
            form.form_errors.append(str(message))
    if str(exc.message) not in {*map(str, exc.fields.values()), *form.form_errors}:
        form.form_errors.append(exc.message)  # a reason already shown is not said twice


def refusal_text(exc):
    """A refusal in one line: its message, then what it says of each field, each reason once."""
    return " ".join(dict.fromkeys(map(str, [exc.message, *exc.fields.values()])))


def form_number(key, parse, message, field_message=None):
    """The number the posted form gives for ``key`` (``parse``: ``numbers.parse_amount``, ``money.parse_yuan``,
    an id parser), or a ValidationError ``message`` naming that field (``field_message`` or the parser's reason)."""
    from .numbers import NumberError

    try:
        return parse(request.form.get(key) or "")
    except NumberError as exc:
        raise ValidationError(message, {key: field_message or str(exc)}) from None


def act(work, refused=None, *, show="all", error_page=(404,), done=None):
    """Run ``work()`` at the commit boundary and return its result (a response), flashing ``done`` once
    committed. On a ``DomainError`` roll back; one whose status is in ``error_page`` and that names no field
    (or any, without ``refused``) is the error page; any other is shown (``show_error``; ``show=None`` where
    ``refused`` draws it in the page's own form) and answered by ``refused(exc)``. What ``work`` flashed is
    said only once it is committed."""
    flashed = len(session.get("_flashes", ()))
    try:
        result = work()
        db.session.commit()
    except DomainError as exc:
        _rollback(flashed)
        if refused is None or (exc.status in error_page and not exc.fields):
            raise
        if show:
            show_error(exc, show)
        return refused(exc)
    except BaseException:
        _rollback(flashed)
        raise
    if done:
        flash(done, "success")
    return result


def _rollback(flashed):
    db.session.rollback()
    if len(session.get("_flashes", ())) > flashed:  # a success said before the work failed
        session["_flashes"] = session["_flashes"][:flashed]


def committed(refused=None, **options):
    """``act`` as a view decorator (under the route and login decorators): ``refused(exc, **view_args)``
    answers a refusal; ``options`` as for ``act``."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            answer = None if refused is None else (lambda exc: refused(exc, **kwargs))
            return act(lambda: view(*args, **kwargs), answer, **options)

        return wrapper

    return decorate


def act_then_redirect(call, done, url, **options):
    """The common action: ``call()`` at the boundary (``done``: the message once committed), then back to
    ``url`` whether it was done or refused; ``options`` as for ``act``."""

    def work():
        call()
        return redirect(url)

    return act(work, lambda exc: redirect(url), done=done, **options)
