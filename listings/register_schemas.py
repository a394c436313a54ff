"""The rights register API's bodies and answers as marshmallow schemas (``marketplace.kernel.schemas``): each
validates the body of its route and is that route's OpenAPI description.

Bounds are the constants ``listings.register_input`` and ``listings.register`` apply to the same input from the
operators' forms (``listings.vocab``). Which fields an entry takes follows from its kind (a patent has no
``tm_status``), known only once the entry is found: ``register_input.clean_changes`` checks that after the schema.
A correction's reasons are named by the field (``legal_status``), as the form and the service name them.
"""
from flask_babel import lazy_gettext as _l
from marshmallow import fields

from marketplace.kernel import schemas as s

from . import register
from .models import KINDS
from .register_input import CHOICES, PATENT_CORRECTIONS, TRADEMARK_CORRECTIONS
from .vocab import MAX_ABSTRACT, MAX_CLAIM_NOTE, MAX_CORRECTED_COUNT, MAX_REASON, MAX_RIGHT_TITLE, MIN_REASON

_n = s.nullable


def reason(**kwargs):
    return s.String(required=True, validate=s.Length(min=MIN_REASON, max=MAX_REASON, too_short=s.N_("必填")), **kwargs)


def _correction(kind):
    if kind == "text":
        return s.String(validate=s.Length(min=1, max=MAX_RIGHT_TITLE))
    if kind == "long_text":
        return s.String(validate=s.Length(min=1, max=MAX_ABSTRACT))
    if kind == "date":
        return s.Date()
    if kind == "int":
        return s.Integer(validate=s.Range(min=0, max=MAX_CORRECTED_COUNT))
    return s.String(validate=s.OneOf(list(CHOICES[kind])))


class _Changes(s.Body):
    error_messages = {"unknown": _l("未知或不可更正的字段"), "type": _l("应为对象")}


# every correctable field of either kind (register_input.PATENT_CORRECTIONS / TRADEMARK_CORRECTIONS)
Changes = _Changes.from_dict({column: _correction(kind) for column, kind in
                             dict(PATENT_CORRECTIONS + TRADEMARK_CORRECTIONS).items()}, name="Changes")


class Correction(s.Body):
    changes = s.Dict(required=True, metadata={
        **{key: value for key, value in s.json_schema(Changes).items() if key in ("properties", "additionalProperties")},
        "description": "fields and their new values (patents: title, patent_type, legal_status, filing_date, "
                       "grant_date, annuity_paid_until, claims_count, abstract; trademarks: title, tm_status, "
                       "registration_date, disputes)"})
    reason = reason()

    @s.validates_schema(skip_on_field_errors=False)
    def _changes(self, data, **kwargs):
        """Each field's reason under its own name, as the form and the service give it."""
        changes = data.get("changes")
        if isinstance(changes, dict):
            errors = Changes().validate(changes)
            if errors:
                raise s.SchemaError({str(key)[:60]: value for key, value in errors.items()})


class Decision(s.Body):
    decision = s.String(required=True, validate=s.OneOf(list(register.CLAIM_DECISIONS),
                                                        message=s.N_("应为 uphold（支持）或 dismiss（驳回）")))
    reason = reason()


# --- answers ---------------------------------------------------------------------------------------------

class _ClaimRight(s.Out):
    kind = fields.String(required=True, validate=s.OneOf(list(KINDS)))
    number = fields.String(required=True)
    title = fields.String(required=True)
    url = fields.String(required=True)


class _Claimant(s.Out):
    organization_id = _n(fields.Integer, required=True)
    name = fields.String(required=True)
    user_id = _n(fields.Integer, required=True)


class ClaimOut(s.Out):
    id = fields.Integer(required=True)
    status = fields.String(required=True, validate=s.OneOf(["open", "upheld", "dismissed"]))
    right = fields.Nested(_ClaimRight, required=True)
    holders = fields.List(fields.String(), required=True)
    claimant = fields.Nested(_Claimant, required=True)
    note = _n(fields.String)
    evidence_url = _n(fields.String)
    created_at = fields.String()
    decided_at = _n(fields.String)
    decision_reason = _n(fields.String)


class ClaimAnswer(s.Out):
    claim = fields.Nested(ClaimOut, required=True)


class Claims(s.Out):
    claims = fields.List(fields.Nested(ClaimOut), required=True)


class _Holder(s.Out):
    type = fields.String(required=True, validate=s.OneOf(["organization", "person", "outside"]))
    name = fields.String(required=True)
    id_type = _n(fields.String)
    id_number_masked = _n(fields.String)


class _NextFee(s.Out):
    what = fields.String(required=True)
    due = fields.Date(required=True)
    grace_ends = fields.Date(required=True)


class _Licence(s.Out):
    type = fields.String(required=True)
    territory = fields.String()
    field = fields.String()
    starts_on = _n(fields.Date)
    ends_on = _n(fields.Date)
    source = _n(fields.String)
    recordal_number = _n(fields.String)


class _Event(s.Out):
    at = fields.String(required=True)
    action = fields.String(required=True)
    source = _n(fields.String)
    deal_id = fields.Integer()


class _RightListing(s.Out):
    id = fields.Integer(required=True)
    title = fields.String(required=True)
    status = fields.String(required=True)
    deal_types = fields.List(fields.String())


class RegisterEntry(s.Out):
    kind = fields.String(required=True, validate=s.OneOf(list(KINDS)))
    number = fields.String(required=True)
    madrid = fields.Boolean()
    title = fields.String(required=True)
    holders = fields.List(fields.Nested(_Holder), required=True)
    status = _n(fields.String)
    term_ends = _n(fields.Date)
    next_fee = _n(fields.Nested, _NextFee)
    pledged = fields.Boolean(required=True)
    licences = fields.List(fields.Nested(_Licence), required=True)
    verified = fields.Boolean()
    history = fields.List(fields.Nested(_Event), required=True, metadata={"description": "on-platform history, "
                                                                                        "no prices"})
    listings = fields.List(fields.Nested(_RightListing), required=True)


class RightAnswer(s.Out):
    right = fields.Nested(RegisterEntry, required=True)
    listing_input = fields.Dict(required=True, metadata={
        "description": "the right as a listing's rights item ({patent: {...}} or {trademark: {...}}): what the "
                       "wizard fills in"})
    viewer = fields.Dict(metadata={
        "description": "for a signed-in seller: holds (their side is a holder) and held_by_another (the 409 a "
                       "listing would get: message, rights, ways_forward)"})


class Corrected(s.Out):
    right = fields.Nested(RegisterEntry, required=True)


class CoOwnerConsent(s.Out):
    listing_id = fields.Integer(required=True)
    consents = fields.List(fields.Raw(), required=True)


class ClaimUpload(s.Body):
    """``POST /rights/{kind}/{number}/claims`` (multipart): the evidence file and the claimant's note."""

    evidence = s.File("the evidence of the claimant's title: PDF, PNG or JPEG (type checked by content)",
                      required=True)
    note = s.String(validate=s.Length(max=MAX_CLAIM_NOTE))
