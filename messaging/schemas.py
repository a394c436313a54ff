"""The messages API's body and answers as marshmallow schemas (``marketplace.kernel.schemas``): the schema
validates the body and is the route's OpenAPI description; ``service.clean_body`` trims the text and
refuses control characters after it."""
from marshmallow import fields

from marketplace.kernel import schemas as s

from .service import MAX_MESSAGE

_n = s.nullable


class Write(s.Body):
    message = s.String(required=True, validate=s.Length(min=1, max=MAX_MESSAGE))


class MessageOut(s.Out):
    id = fields.Integer()
    author = fields.String()
    mine = fields.Boolean()
    body = fields.String()
    created_at = fields.DateTime()


class _Contacts(s.Out):
    name = fields.String()
    organization = _n(fields.String)
    email = fields.String()


class ThreadOut(s.Out):
    id = fields.Integer(required=True)
    kind = fields.String(required=True, validate=s.OneOf(["listing", "deal"]))
    listing_id = fields.Integer(required=True)
    deal_id = _n(fields.Integer)
    listing_title = fields.String()
    with_ = fields.String(data_key="with", metadata={"description": "the other party, as shown"})
    side = _n(fields.String, validate=s.OneOf(["buyer", "seller"]))
    message_count = fields.Integer()
    last_message_at = fields.String()
    disclosed_deal_id = _n(fields.Integer)
    unread = fields.Integer()
    contacts_visible = fields.Boolean()
    contacts = _n(fields.Nested, _Contacts)
    messages = fields.List(fields.Nested(MessageOut))


class Inbox(s.Out):
    unread = fields.Integer()
    threads = fields.List(fields.Nested(ThreadOut))


class One(s.Out):
    thread = fields.Nested(ThreadOut)
