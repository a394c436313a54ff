"""The account API's bodies and answers (``/auth/register``, ``/auth/token``, ``/auth/revoke``, ``/me``) as
marshmallow schemas (``marketplace.kernel.schemas``): each validates its route's body and is its OpenAPI
description. The bounds are ``marketplace.kernel.accounts``'s, which the sign-up page goes through too; what needs
the database or a check digit (an e-mail already registered, a USCC) stays there, after the schema."""
from flask_babel import gettext as _
from marshmallow import fields

from ..kernel import accounts
from ..kernel import schemas as s
from ..kernel.regions import REGIONS
from ..kernel.uscc import InvalidUSCC, normalize_uscc

_n = s.nullable
SELF_ROLES = ("seller", "buyer")  # operators are never self-registered (accounts.register_user)


def _email(value):
    """The form ``accounts.register_user`` takes (it strips and lowercases the address first)."""
    if not accounts.EMAIL_RE.match(value.strip().lower()):
        raise ValueError(_("邮箱格式不正确"))


class OrganizationInput(s.Body):
    name = s.String(required=True, validate=s.Length(min=1, max=accounts.MAX_ORG_NAME))
    uscc = s.String(required=True, validate=[s.Length(max=40), s.Check(normalize_uscc, InvalidUSCC)], metadata={
        "description": "统一社会信用代码: 18 characters with its check character", "example": "91440300MA5F7YRE78"})
    region = s.String(validate=s.OneOf(list(REGIONS), message=s.N_("未知地区：应为广东省21个地级市之一或 other")),
                      metadata={"description": "left out or null: other"})


class Register(s.Body):
    # the whole sign-up is checked at once (a bad password and a USCC with a wrong check character are named
    # together); only what needs the database (an e-mail or a USCC already registered) comes after, in accounts
    refusal = s.N_("注册信息有误，请检查标注的字段")

    email = s.String(required=True, validate=[
        s.Length(min=1, max=accounts.MAX_EMAIL, too_long=s.N_("邮箱格式不正确")), s.Check(_email, ValueError)],
        metadata={"description": "an e-mail address (name@domain.tld; spaces around it and case do not matter)"})
    password = s.String(required=True, validate=s.Length(min=accounts.MIN_PASSWORD, max=accounts.MAX_PASSWORD,
                                                         too_short=s.N_("密码至少 %(n)s 个字符"),
                                                         too_long=s.N_("密码最多 %(n)s 个字符")))
    name = s.String(required=True, validate=s.Length(min=1, max=accounts.MAX_NAME))
    roles = s.List(s.String(validate=s.OneOf(list(SELF_ROLES))),
                   required=True, whole=True,
                   validate=s.Length(min=1, too_short=s.N_("至少选择一个角色（seller 或 buyer）")))
    organization = s.Nested(OrganizationInput, metadata={
        "description": "the seller's or buyer's organisation; left out: a natural person"})
    accept_terms = s.Boolean(required=True, validate=s.OneOf([True], message=s.N_("请阅读并同意《用户协议》和《隐私政策》")),
                             metadata={"description": "consent to the user agreement (/terms) and privacy policy "
                                                      "(/privacy-policy): true"})


class Credentials(s.Body):
    email = s.String(required=True, validate=s.Length(max=accounts.MAX_EMAIL))
    password = s.String(required=True, validate=s.Length(max=accounts.MAX_PASSWORD))


class _Organization(s.Out):
    id = fields.Integer()
    name = fields.String()
    uscc = _n(fields.String)
    region = _n(fields.String)
    verified = fields.Boolean()


class UserOut(s.Out):
    id = fields.Integer(required=True)
    email = fields.String(required=True)
    name = fields.String(required=True)
    roles = fields.List(fields.String(), required=True)
    organization = _n(fields.Nested, _Organization, required=True)


class Registered(s.Out):
    user = fields.Nested(UserOut, required=True)
    token = fields.String(required=True)


class TokenAnswer(s.Out):
    token = fields.String(required=True)


class Revoked(s.Out):
    revoked = fields.Boolean(required=True)


class MeAnswer(s.Out):
    user = fields.Nested(UserOut, required=True)
