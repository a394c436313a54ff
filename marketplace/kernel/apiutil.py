"""What every JSON blueprint shares: bearer-token auth, body parsing, the error shape, OpenAPI docs.

The API authenticates by bearer token only (never the session cookie), so its
blueprints are CSRF-exempt; the HTML pages use the cookie and CSRF instead.
"""
import functools

from flask import current_app, g, jsonify, request
from flask_babel import gettext as _

from . import schemas
from .errors import NotAuthenticated, PermissionDenied, ValidationError
from .extensions import db
from .models import ApiToken
from .numbers import RefusedJSON
from .timeutil import utcnow

API_PREFIX = "/api/v1"


def token_user():
    """The user behind the request's bearer token, or None."""
    if "api_user" in g:
        return g.api_user
    header = request.headers.get("Authorization", "")
    user = None
    if header.startswith("Bearer "):
        token = header[7:].strip()
        row = db.session.query(ApiToken).filter_by(token_hash=ApiToken.hash(token), revoked_at=None).first()
        if row is not None and row.user.is_active:
            row.last_used_at = utcnow()
            user = row.user
    g.api_user = user
    return user


def require_user(*roles):
    """Return the authenticated API user; 401 without a valid token, 403 without one of ``roles``."""
    user = token_user()
    if user is None:
        raise NotAuthenticated(_("需要有效的访问令牌（Authorization: Bearer …）"))
    if roles and not any(user.has_role(r) for r in roles):
        raise PermissionDenied(_("当前账户没有执行此操作的角色：%(roles)s", roles="/".join(roles)))
    return user


def json_body():
    """The request's JSON object, validated by the schema its route documents (``@doc(request_schema=…)``),
    or a 422 naming the problem of each field."""
    data = request.get_json(silent=True)
    if data is None:
        raise ValidationError(_("请求体必须是 JSON 对象"), {"body": _json_problem()})
    if not isinstance(data, dict):
        raise ValidationError(_("请求体必须是 JSON 对象"), {"body": "expected an object"})
    return _validated(_route_doc().get("request"), data)


def query_args():
    """The query string, validated by the route's ``@doc(query_schema=…)``: a dict of the parameters given."""
    args = {key: request.args.get(key) for key in request.args}
    return _validated(_route_doc().get("query"), args)


def _route_doc():
    from flask import current_app

    view = current_app.view_functions.get(request.endpoint)
    return getattr(view, "__openapi__", None) or {}


def _validated(schema, data):
    """``data`` when ``schema`` (a marshmallow schema) accepts it; else the fields' reasons as a 422.
    A hand-written dict schema (not yet converted) documents only."""
    if schema is None or isinstance(schema, dict):
        return data
    schema = schemas.instance(schema)
    errors = schema.validate(data)
    if errors:
        raise _refused(schema, errors)
    return data


def _refused(schema, errors):
    """The 422 of a body ``schema`` refused: each field's reason, under the schema's own ``refusal`` message
    (a message id, e.g. the sign-up's "注册信息有误…") or one naming the fields."""
    fields = schemas.flat_errors(errors)
    refusal = getattr(schema, "refusal", None)
    if refusal:
        return ValidationError(_(refusal), fields)
    return ValidationError(_("请检查这些字段：%(fields)s", fields=", ".join(fields)), fields)


def _json_problem():
    """Why the body is not JSON we take: a refused number (NaN, Infinity, too long) is named, else "invalid JSON"."""
    if request.is_json:
        try:
            current_app.json.loads(request.get_data(cache=True))
        except RefusedJSON as exc:
            return str(exc)
        except ValueError:
            pass
    return "invalid JSON"


# The error shape every API error has (error_response below); the OpenAPI document's "Error" schema.
ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {
        "type": "object", "required": ["code", "message"],
        "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                       "fields": {"type": "object", "additionalProperties": {"type": "string"}}},
    }},
}


def error_response(status, code, message, fields=None):
    body = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    return jsonify({"error": body}), status


# --- OpenAPI --------------------------------------------------------------
# A view documents itself with @doc(...); marketplace.web.openapi builds the
# document from the app's url_map, so every registered route appears in it.

def doc(summary, *, request_schema=None, query_schema=None, responses=None, auth=True, tags=None, parameters=None,
        content_type="application/json"):
    """Attach OpenAPI facts to a view function.

    ``request_schema`` / ``query_schema``: a ``marketplace.kernel.schemas.Body`` that ``json_body()`` /
    ``query_args()`` validate with and the document describes (a plain JSON-schema dict still documents
    the routes not converted yet). ``responses`` maps status codes to a schema (``marketplace.kernel.schemas.Out``
    or a dict), or None for "no body described".
    """

    def wrap(fn):
        fn.__openapi__ = {
            "summary": summary,
            "request": request_schema,
            "query": query_schema,
            "responses": responses or {"200": {"type": "object"}},
            "auth": auth,
            "tags": tags or [],
            "parameters": parameters or [],
            "content_type": content_type,
        }
        return fn

    return wrap


def commit_after(fn):
    """Commit once after a successful handler; roll back on any error (Indico's request handler)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            result = fn(*args, **kwargs)
            db.session.commit()
            return result
        except Exception:
            db.session.rollback()
            raise

    return wrapper


def form_body():
    """A multipart/form-data request's text fields, validated by the schema its route documents
    (``@doc(request_schema=…, content_type="multipart/form-data")``) as ``json_body()`` validates JSON: an
    unknown field, a text too long or a number that is not an integer is a 422 naming it. The file parts are
    not the schema's to check (``schemas.file_fields``): the service checks them with
    ``marketplace.kernel.uploads``. Returns a dict of the text fields given (the first value of each)."""
    data = request.form.to_dict()
    schema = _route_doc().get("request")
    if schema is None or isinstance(schema, dict):
        return data
    schema = schemas.instance(schema)
    errors = schema.validate(data, partial=schemas.file_fields(schema))
    if errors:
        raise _refused(schema, errors)
    return data
