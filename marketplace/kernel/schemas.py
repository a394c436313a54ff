"""One schema a request body: it validates the body and is the body's OpenAPI description.

API request and response shapes are marshmallow schemas built from the fields below. A view names its
schemas in ``@doc(request_schema=…, query_schema=…, responses=…)`` (``marketplace.kernel.apiutil``);
``json_body()`` and ``query_args()`` validate against the schema the route documents, and
``marketplace.web.openapi`` turns the same schemas into the document with apispec's MarshmallowPlugin. So
a field's type, bounds, choices and whether it is required are written once.

What a schema checks: the shape of the input, field by field (type, length, range, choice, required,
no unknown keys). What needs the database or several fields together (an application number's check
digit, a price below the reserve, a deal's state) stays with the service, which the HTML forms share.

Messages: the fields' messages are Chinese message ids translated when the error is reported, so a
refused body answers ``{"error": {"code": "validation_error", "fields": {"rights[0].patent.title": …}}}``
in the caller's language, like every other validation error.
"""
from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import EXCLUDE, RAISE, Schema, fields, validate, validates_schema
from marshmallow import ValidationError as SchemaError

from .i18n import N_
from .numbers import NumberError, parse_int

__all__ = ["N_", "RAISE", "Schema", "SchemaError", "validates_schema"]

_COMMON = {
    "required": _l("必填"),
    "null": _l("必填"),
    "validator_failed": _l("无效的值"),
}


class _Field:
    """Optional fields take null as "not given" (as the services do); required ones refuse it."""

    def __init__(self, *args, **kwargs):
        if not kwargs.get("required"):
            kwargs.setdefault("allow_none", True)
        super().__init__(*args, **kwargs)


class String(_Field, fields.String):
    default_error_messages = {**_COMMON, "invalid": _l("应为文本"), "invalid_utf8": _l("应为文本")}


class Integer(_Field, fields.Integer):
    """An integer by ``marketplace.kernel.numbers.parse_int``: JSON integers (or digit text), at most 18 digits,
    never a bool, a fraction, NaN or an exponent."""

    default_error_messages = {**_COMMON, "invalid": _l("应为整数")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, strict=True, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return parse_int(value)
        except NumberError as exc:
            raise SchemaError(str(exc)) from None


class Boolean(_Field, fields.Boolean):
    """JSON true or false only."""

    default_error_messages = {**_COMMON, "invalid": _l("应为 true 或 false")}
    truthy = {True}
    falsy = {False}

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):  # 1 == True: the sets above alone take 1 and 0
            raise self.make_error("invalid")
        return value


class Date(_Field, fields.Date):
    default_error_messages = {**_COMMON, "invalid": _l("日期格式应为 YYYY-MM-DD"),
                              "format": _l("日期格式应为 YYYY-MM-DD")}


class DateTime(_Field, fields.DateTime):
    default_error_messages = {**_COMMON, "invalid": _l("时间格式应为 ISO 8601，如 2026-01-31T18:00:00+08:00"),
                              "invalid_awareness": _l("时间需带时区，如 +08:00"),
                              "format": _l("时间格式应为 ISO 8601，如 2026-01-31T18:00:00+08:00")}


class List(_Field, fields.List):
    default_error_messages = {**_COMMON, "invalid": _l("应为列表")}

    def __init__(self, *args, whole=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.inner.allow_none = False  # an item is never null
        self.whole = whole  # an item's error is reported as the list's (deal_types: "只能是 …")

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return super()._deserialize(value, attr, data, **kwargs)
        except SchemaError as exc:
            if self.whole and isinstance(exc.messages, dict):
                first = next(iter(exc.messages.values()))
                raise SchemaError(first if isinstance(first, list) else [first]) from None
            raise


class Nested(_Field, fields.Nested):
    default_error_messages = {**_COMMON, "type": _l("应为对象")}


class Raw(_Field, fields.Raw):
    default_error_messages = dict(_COMMON)


# --- validators: apispec reads their bounds; their messages are translated when they refuse ---------

class Length(validate.Length):
    """``too_short`` / ``too_long``: message ids (``N_``) of the domain's own wording, with ``%(n)s``."""

    def __init__(self, min=None, max=None, *, too_short=None, too_long=None):  # noqa: A002
        super().__init__(min=min, max=max)
        self.too_short, self.too_long = too_short, too_long

    def __call__(self, value):
        if self.min is not None and len(value) < self.min:
            if self.too_short:
                raise SchemaError(_(self.too_short, n=self.min))
            if self.min == 1:
                raise SchemaError(_("必填"))
            key = N_("至少 %(n)s 个字符") if isinstance(value, str) else N_("至少 %(n)s 项")
            raise SchemaError(_(key, n=self.min))
        if self.max is not None and len(value) > self.max:
            if self.too_long:
                raise SchemaError(_(self.too_long, n=self.max))
            key = N_("最多 %(n)s 个字符") if isinstance(value, str) else N_("最多 %(n)s 项")
            raise SchemaError(_(key, n=self.max))
        return value


class Check(validate.Validator):
    """A domain check as a field validator: ``check(value)`` raises ``error`` (its text is the reason).
    apispec cannot read a function: the field's ``metadata`` documents the bounds it keeps."""

    def __init__(self, check, error):
        self.check, self.error = check, error

    def __call__(self, value):
        try:
            self.check(value)
        except self.error as exc:
            raise SchemaError(str(exc)) from None
        return value


class Range(validate.Range):
    def __call__(self, value):
        if self.min is not None and value < self.min:
            raise SchemaError(_("不能小于 %(n)s", n=self.min))
        if self.max is not None and value > self.max:
            raise SchemaError(_("不能大于 %(n)s", n=self.max))
        return value


class OneOf(validate.OneOf):
    """``message``: a message id (``N_``) of the domain's own wording, with ``%(options)s``."""

    def __init__(self, choices, *, message=None):
        super().__init__(choices)
        self.message = message

    def __call__(self, value):
        if value not in self.choices:
            options = "、".join(map(str, self.choices))
            if self.message:
                raise SchemaError(_(self.message, options=options))
            raise SchemaError(_("应为以下之一：%(options)s", options=options))
        return value


class Regexp(validate.Regexp):
    def __init__(self, regex, message):
        super().__init__(regex)
        self.message = message

    def __call__(self, value):
        if self.regex.match(value) is None:
            raise SchemaError(_(self.message))
        return value


class Body(Schema):
    """A request body: unknown keys are refused (a misspelt key is an error, not silently ignored)."""

    error_messages = {"unknown": _l("不认识的字段"), "type": _l("应为 JSON 对象")}

    class Meta:
        unknown = RAISE


class Query(Schema):
    """A query string: parameters no route knows (``lang``, a cache buster) are left alone."""

    class Meta:
        unknown = EXCLUDE


class Out(Schema):
    """A response shape (documentation and the tests' check of every JSON answer). Its fields are
    marshmallow's own (``fields.String()``…): in an answer a key may be null only where it says so
    (``nullable``)."""

    class Meta:
        unknown = EXCLUDE


def nullable(field_class, *args, **kwargs):
    """An answer's field that may be null."""
    return field_class(*args, allow_none=True, **kwargs)


# --- errors in the API's error shape ----------------------------------------------------------------

def flat_errors(messages, prefix=""):
    """marshmallow's nested messages as the error shape's ``fields``: ``rights[0].patent.title`` → reason."""
    out = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            if key == "_schema":
                name = prefix.rstrip(".") or "body"
            elif isinstance(key, int):
                name = f"{prefix.rstrip('.')}[{key}]"
            else:
                name = prefix + str(key)
            for sub, reason in flat_errors(value, name + ".").items():
                out.setdefault(sub, reason)
        return out
    reasons = messages if isinstance(messages, list) else [messages]
    first = reasons[0] if reasons else ""
    if isinstance(first, (dict, list)):
        return flat_errors(first, prefix)
    out[prefix.rstrip(".")] = str(first)
    return out


def instance(schema):
    return schema() if isinstance(schema, type) else schema


# --- OpenAPI ------------------------------------------------------------------------------------------

def _inline(schema):
    """No component names: every schema is written where it is used (the document reads as one page and
    the tests and schemathesis need no $ref resolution)."""
    return None


def converter():
    """An apispec converter from marshmallow schemas to OpenAPI 3.0 schemas."""
    plugin = MarshmallowPlugin(schema_name_resolver=_inline)
    APISpec("IP Mart", "1", "3.0.3", plugins=[plugin])
    return plugin.converter


def json_schema(schema, conv=None):
    """The OpenAPI schema of a marshmallow schema (class or instance); a dict passes through."""
    if schema is None or isinstance(schema, dict):
        return schema
    conv = conv or converter()
    return conv.schema2jsonschema(instance(schema))


def query_parameters(schema, conv=None):
    conv = conv or converter()
    return conv.schema2parameters(instance(schema), location="query")


# --- fields added for search, grading, demand and the rights register (issue 20) ----------------------

class Dict(_Field, fields.Dict):
    """A JSON object (its keys and values as ``keys`` / ``values`` say, or as they come)."""

    default_error_messages = {**_COMMON, "invalid": _l("应为对象")}

# --- multipart uploads ------------------------------------------------------------------------------

class File(fields.Raw):
    """A file part of a multipart/form-data body: documented as a binary string; the form validation leaves it
    alone (its type, size and content are ``marketplace.kernel.uploads``'s checks, in the service)."""

    def __init__(self, description="PDF, PNG or JPEG (type checked by content)", **kwargs):
        metadata = {"type": "string", "format": "binary", "description": description, **kwargs.pop("metadata", {})}
        super().__init__(metadata=metadata, **kwargs)


def file_fields(schema):
    """The names of ``schema``'s file parts (``File``, or any field documented as ``format: binary``)."""
    return tuple(name for name, field in instance(schema).fields.items()
                 if isinstance(field, File) or field.metadata.get("format") == "binary")
