"""The operator audit log: who did what, when, and the object before and after.

Every operator action calls :func:`record` in the same transaction as the change,
so an action and its audit row are committed (or rolled back) together.
"""
from datetime import date, datetime
from decimal import Decimal

from .extensions import db
from .models import AuditLog
from .timeutil import iso, utcnow


def _plain(value):
    """A JSON-safe copy of ``value`` (datetimes as ISO strings, sets as sorted lists)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted(_plain(v) for v in value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return str(value)


def record(actor, action, obj_type, obj_id, before=None, after=None):
    """Add an audit row for ``actor`` (a User, an id, or None for the system) and flush.

    ``action`` is a dotted verb such as ``organization.verify``; ``before`` and
    ``after`` are small dicts of the fields the action changed.
    """
    actor_id = actor if isinstance(actor, int) or actor is None else actor.id
    row = AuditLog(actor_id=actor_id, action=action, object_type=obj_type, object_id=obj_id,
                   before=_plain(before), after=_plain(after), created_at=utcnow())
    db.session.add(row)
    db.session.flush()
    return row
