"""Typed domain errors. Services raise them; views and the API map them to responses.

Each carries the HTTP status the API answers with and an error code for the
``{"error": {"code", "message", "fields"}}`` shape of docs/api.md.
"""


class DomainError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message, fields=None, **extra):
        super().__init__(message)
        self.message = str(message)
        self.fields = fields or {}
        self.extra = extra  # e.g. minimum_amount for a losing bid

    def to_dict(self):
        body = {"code": self.code, "message": self.message}
        if self.fields:
            body["fields"] = {k: str(v) for k, v in self.fields.items()}
        body.update(self.extra)
        return {"error": body}


class ValidationError(DomainError):
    """Bad input: a field is missing or malformed."""

    status = 422
    code = "validation_error"


class NotAuthenticated(DomainError):
    status = 401
    code = "unauthenticated"


class PermissionDenied(DomainError):
    status = 403
    code = "forbidden"


class NotFound(DomainError):
    """Missing, or not visible to the caller (never reveals which)."""

    status = 404
    code = "not_found"


class Conflict(DomainError):
    """Wrong state, or an offer/bid that loses."""

    status = 409
    code = "conflict"


class IllegalTransition(Conflict):
    code = "illegal_transition"


class RateLimited(DomainError):
    status = 429
    code = "rate_limited"
