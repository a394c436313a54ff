"""Every JSON answer the tests get is checked against the schema its route documents.

``client`` (tests/conftest.py) is a ``DocumentedClient``: after each request to /api/, the answer is
validated with jsonschema against the OpenAPI response schema of that route and status, as
schemathesis's ``response_schema_conformance`` does. Routes whose answers are marshmallow schemas
(``marketplace.kernel.schemas.Out``; the hand-written dicts of modules not converted yet are left to their own
tests) and their error answers (the Error schema) are checked.
"""
import copy

import jsonschema
from werkzeug.exceptions import HTTPException

from marketplace.kernel import schemas
from marketplace.web.openapi import ERROR_SCHEMA
from tests.own_context import OwnContextClient


def json_schema(schema):
    """OpenAPI 3.0 → JSON Schema: ``nullable: true`` becomes a null alternative (what schemathesis does)."""
    schema = copy.deepcopy(schema)

    def walk(node):
        if isinstance(node, dict):
            if node.pop("nullable", False):
                kind = node.get("type")
                if isinstance(kind, str):
                    node["type"] = [kind, "null"]
                elif "type" not in node and node:
                    inner = dict(node)
                    node.clear()
                    node["anyOf"] = [inner, {"type": "null"}]
                if "enum" in node and None not in node["enum"]:
                    node["enum"] = [*node["enum"], None]
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    return schema


def documented_schema(app, path, method, status):
    """The JSON schema a converted route documents for ``status``; None when it documents none (or
    the route is not converted to marshmallow schemas yet)."""
    try:
        rule, _args = app.url_map.bind("localhost").match(path, method=method, return_rule=True)
    except HTTPException:
        return None
    meta = getattr(app.view_functions[rule.endpoint], "__openapi__", None)
    if meta is None or not any(isinstance(s, type | schemas.Schema) for s in meta["responses"].values()):
        return None
    schema = meta["responses"].get(str(status), ...)
    if schema is None or (schema is ... and str(status).startswith(("4", "5"))):
        return json_schema(ERROR_SCHEMA)
    if schema is ...:
        return None
    return json_schema(schemas.json_schema(schema))


class DocumentedClient(OwnContextClient):
    def open(self, *args, **kwargs):
        response = super().open(*args, **kwargs)
        request = getattr(response, "request", None)
        if request is not None and request.path.startswith("/api/") and response.is_json:
            schema = documented_schema(self.application, request.path, request.method, response.status_code)
            if schema is not None:
                try:
                    jsonschema.validate(response.get_json(), schema)
                except jsonschema.ValidationError as exc:
                    raise AssertionError(f"{request.method} {request.path} → {response.status_code}: the answer "
                                         f"does not match its documented schema: {exc.message} at "
                                         f"{list(exc.absolute_path)}") from None
        return response
