"""``GET /api/v1/openapi.json``: built from the app's own url_map.

Every rule under /api/ appears; a view's ``@doc`` supplies its summary and schemas.
A test fails when a route has no ``@doc``, so the document cannot fall behind the server.
"""
import re

from flask import Blueprint, current_app, jsonify

from ..kernel import schemas
from ..kernel.apiutil import API_PREFIX, ERROR_SCHEMA

bp = Blueprint("openapi", __name__, url_prefix=API_PREFIX)

_CONVERTER = re.compile(r"<(?:(\w+):)?(\w+)>")


def _openapi_path(rule):
    return _CONVERTER.sub(lambda m: "{" + m.group(2) + "}", rule)


def _param_schema(converter):
    return {"type": "integer", "minimum": 1} if converter == "int" else {"type": "string"}


def _request_content(meta, conv):
    """The request body's media types: one, or several (``content_type=("application/json",
    "multipart/form-data")``) from the one schema; a JSON body does not carry the schema's file parts."""
    types = meta["content_type"]
    out = {}
    for media in (types,) if isinstance(types, str) else types:
        schema = meta["request"]
        files = () if isinstance(schema, dict) or media == "multipart/form-data" else schemas.file_fields(schema)
        if files:
            schema = schemas.instance(schema).__class__(exclude=files)
        out[media] = {"schema": schemas.json_schema(schema, conv)}
    return out


def build_document(app):
    conv = schemas.converter()
    paths = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.rule.startswith("/api/"):
            continue
        view = app.view_functions[rule.endpoint]
        meta = getattr(view, "__openapi__", None)
        path = _openapi_path(rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            op = {"operationId": f"{rule.endpoint}.{method.lower()}", "responses": {}}
            params = [{"name": name, "in": "path", "required": True, "schema": _param_schema(conv)}
                      for conv, name in _CONVERTER.findall(rule.rule)]
            if meta is None:
                op["summary"] = rule.endpoint
                op["x-undocumented"] = True
                op["responses"]["default"] = {"description": "undocumented"}
            else:
                op["summary"] = meta["summary"]
                if meta["tags"]:
                    op["tags"] = meta["tags"]
                params += meta["parameters"]
                if meta.get("query") is not None:
                    params += schemas.query_parameters(meta["query"], conv)
                if meta["request"] is not None and method in ("POST", "PATCH", "PUT"):
                    op["requestBody"] = {"required": True, "content": _request_content(meta, conv)}
                for status, schema in meta["responses"].items():
                    desc = {"description": f"HTTP {status}"}
                    if schema is not None:
                        desc["content"] = {"application/json": {"schema": schemas.json_schema(schema, conv)}}
                    elif str(status).startswith(("4", "5")):
                        desc["content"] = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
                    op["responses"][str(status)] = desc
                if meta["auth"]:
                    op["security"] = [{"bearer": []}]
                    op["responses"].setdefault("401", {"description": "no or bad token", "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
                else:
                    op["security"] = []
            for code in ("400", "403", "404", "409", "422", "429"):
                op["responses"].setdefault(code, {"description": f"HTTP {code}", "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
            if params:
                op["parameters"] = params
            paths.setdefault(path, {})[method.lower()] = op
    return {
        "openapi": "3.0.3",
        "info": {"title": "IP Mart (知产超市) API", "version": "1.0.0",
                 "description": "Patents and trademarks listed, graded, searched, bid on and carried "
                                "through escrow. Money in integer fen; times ISO 8601 with offset."},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": ERROR_SCHEMA},
        },
    }


@bp.get("/openapi.json")
def openapi_json():
    return jsonify(build_document(current_app))


openapi_json.__openapi__ = {"summary": "This OpenAPI document", "request": None, "auth": False, "tags": ["meta"],
                            "responses": {"200": {"type": "object"}}, "parameters": [],
                            "content_type": "application/json"}
