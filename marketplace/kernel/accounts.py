"""Account rules: registration, sign-in, tokens, passwords. Used by the HTML pages, the API and the CLI."""
import re

from flask_babel import gettext as _
from sqlalchemy import func
from werkzeug.security import check_password_hash, generate_password_hash

from .errors import NotAuthenticated, ValidationError
from .extensions import db
from .legal import TERMS_VERSION
from .models import ROLES, ApiToken, Organization, User
from .regions import REGIONS
from .timeutil import utcnow
from .uscc import InvalidUSCC, normalize_uscc

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD = 10
MAX_PASSWORD = 200  # characters: a bound on the work a hash check does (every form and API body that takes one)
MAX_EMAIL, MAX_NAME, MAX_ORG_NAME = 254, 100, 200  # the API's schema reads them too (web/account_schemas.py)
_dummy_hash = None


def _spend_hash_time(password):
    """Check against a throwaway hash when the email is unknown, so a wrong email
    costs the same time as a wrong password and reveals nothing."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = generate_password_hash("not-a-real-password", method="scrypt")
    check_password_hash(_dummy_hash, password)


def _as_text(value, fields, key):
    """``value`` when it is text (or missing, as ""); anything else (JSON may carry lists, numbers…) is noted
    as a field error and read as "" so the checks below run on text and never raise."""
    if value is None or isinstance(value, str):
        return value or ""
    fields[key] = _("应为文本")
    return ""


def validate_password(password, fields, key="password"):
    if not password:
        fields[key] = _("必填")
    elif len(password) < MIN_PASSWORD:
        fields[key] = _("密码至少 %(n)s 个字符", n=MIN_PASSWORD)
    elif len(password) > MAX_PASSWORD:
        fields[key] = _("密码最多 %(n)s 个字符", n=MAX_PASSWORD)


def validate_organization(org, fields):
    """Check an organisation dict {name, uscc, region}; return cleaned values."""
    cleaned = {}
    name = _as_text(org.get("name"), fields, "organization.name").strip()
    if "organization.name" in fields:
        pass
    elif not name:
        fields["organization.name"] = _("必填")
    elif len(name) > MAX_ORG_NAME:
        fields["organization.name"] = _("最多 %(n)s 个字符", n=MAX_ORG_NAME)
    cleaned["name"] = name
    try:
        cleaned["uscc"] = normalize_uscc(_as_text(org.get("uscc"), fields, "organization.uscc"))
    except InvalidUSCC as exc:
        fields["organization.uscc"] = str(exc)
    region = _as_text(org.get("region"), fields, "organization.region").strip() or "other"
    if region not in REGIONS:
        fields["organization.region"] = _("未知地区：应为广东省21个地级市之一或 other")
    cleaned["region"] = region
    if "uscc" in cleaned and db.session.query(Organization).filter_by(uscc=cleaned["uscc"]).first():
        fields["organization.uscc"] = _("该统一社会信用代码已注册，请联系贵单位管理员加入")
    return cleaned


def register_user(email, password, name, roles, organization=None, *, allow_operator=False, consent=None):
    """Create a user (and their organisation). Raise ValidationError naming every bad field.

    Operators are never self-registered: only ``users create`` passes ``allow_operator``.
    ``consent``: self-registration (the page, the API) passes what the user answered to the user agreement and
    privacy policy; anything but ``True`` is refused (``accept_terms``) and the version agreed to is recorded
    (marketplace.kernel.legal). ``None``: not asked (accounts an operator or the demo makes).
    """
    fields = {}
    if consent is not None and consent is not True:
        fields["accept_terms"] = _("请阅读并同意《用户协议》和《隐私政策》")
    email = _as_text(email, fields, "email").strip().lower()
    if "email" in fields:
        pass
    elif not email:
        fields["email"] = _("必填")
    elif not EMAIL_RE.match(email) or len(email) > MAX_EMAIL:
        fields["email"] = _("邮箱格式不正确")
    elif db.session.query(User).filter(func.lower(User.email) == email).first():
        fields["email"] = _("该邮箱已注册")
    password = _as_text(password, fields, "password")
    if "password" not in fields:
        validate_password(password, fields)
    name = _as_text(name, fields, "name").strip()
    if "name" in fields:
        pass
    elif not name:
        fields["name"] = _("必填")
    elif len(name) > MAX_NAME:
        fields["name"] = _("最多 %(n)s 个字符", n=MAX_NAME)
    if isinstance(roles, str):
        roles = [roles]
    if roles is not None and not isinstance(roles, (list, tuple)):
        fields["roles"] = _("应为列表，如 [\"buyer\"]")
        roles = []
    roles = list(roles or [])
    allowed = ROLES if allow_operator else ("seller", "buyer")
    if "roles" in fields:
        pass
    elif not roles:
        fields["roles"] = _("至少选择一个角色（seller 或 buyer）")
    elif any(r not in allowed for r in roles):
        fields["roles"] = _("角色只能是 %(roles)s", roles=" / ".join(allowed))
    org_values = None
    if organization:
        if not isinstance(organization, dict):
            fields["organization"] = _("应为对象 {name, uscc, region}")
        else:
            org_values = validate_organization(organization, fields)
    # A seller without an organisation sells as a natural person (issue 13: the register gives rights to
    # natural persons, who list them as their own; see docs/register.md).
    if fields:
        raise ValidationError(_("注册信息有误，请检查标注的字段"), fields)
    user = User(email=email, name=name)
    if consent is True:
        user.terms_version = TERMS_VERSION
        user.terms_accepted_at = utcnow()
    user.roles = roles
    user.set_password(password)
    if org_values:
        user.organization = Organization(**org_values)
    db.session.add(user)
    db.session.flush()
    return user


def authenticate(email, password):
    """Return the user for these credentials, or raise NotAuthenticated without saying which was wrong."""
    email = email.strip().lower() if isinstance(email, str) else ""  # JSON may carry anything: never a 500
    password = password if isinstance(password, str) else ""
    user = db.session.query(User).filter(func.lower(User.email) == email).first() if email else None
    if user is None:
        _spend_hash_time(password or "")
        raise NotAuthenticated(_("邮箱或密码不正确"))
    if not user.check_password(password or "") or not user.is_active:
        raise NotAuthenticated(_("邮箱或密码不正确"))
    return user


def issue_token(user):
    _row, token = ApiToken.issue(user)
    db.session.flush()
    return token


def revoke_token(token):
    row = db.session.query(ApiToken).filter_by(token_hash=ApiToken.hash(token), revoked_at=None).first()
    if row:
        row.revoked_at = utcnow()
    return row is not None


def change_password(user, current, new):
    fields = {}
    if not user.check_password(current or ""):
        fields["current_password"] = _("当前密码不正确")
    validate_password(new, fields, "new_password")
    if fields:
        raise ValidationError(_("无法修改密码"), fields)
    set_new_password(user, new)


def set_new_password(user, new):
    """Store ``new`` (already validated). A new password ends every web session and remember-me cookie (the
    caller may sign the browser that changed it in again) and revokes every API token issued before."""
    user.set_password(new)
    user.end_sessions()
    for row in db.session.query(ApiToken).filter_by(user_id=user.id, revoked_at=None):
        row.revoked_at = utcnow()


def user_json(user):
    org = user.organization
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "roles": user.roles,
        "organization": None if org is None else {
            "id": org.id, "name": org.name, "uscc": org.uscc, "region": org.region, "verified": org.verified,
        },
    }
