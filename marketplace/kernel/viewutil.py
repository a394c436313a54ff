"""What HTML views of every package share: who may see operator pages, and which redirect targets are safe.

(The JSON API's counterpart is ``marketplace.kernel.apiutil``.) Domain packages' views import these from the
kernel, never from the shell (``marketplace.web``), so the dependency stays one-way.
"""
import functools
from urllib.parse import urlsplit

from flask import abort, redirect, request, url_for
from flask_login import current_user


def operator_required(view):
    """Operators only: anonymous visitors are sent to sign in, everyone else gets 403."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if not current_user.is_authenticated:
            return redirect(url_for("auth.login", next=request.path))
        if not current_user.is_operator:
            abort(403)
        return view(*args, **kwargs)

    return wrapper


def safe_next(target):
    """Only a local path (no scheme, no host, no '//' or '\\' tricks) may be a redirect target."""
    if not target:
        return None
    target = target.strip()
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith(("//", "/\\")):
        return None
    if "\\" in target or any(ord(c) < 32 for c in target):
        return None
    return target
