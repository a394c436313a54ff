"""Password reset by e-mail: a signed, expiring, single-use link.

* The link carries ``itsdangerous``'s timed signature (``SECRET_KEY``, salt ``SALT``) over the user's id and a
  fingerprint of their current password hash (a SHA-256 digest, never the hash itself: a signed payload is
  readable). Setting a new password changes the hash, so a link works once, and an older link stops working as
  soon as the password changes by any route (reset, change, account deletion). It expires after
  ``PASSWORD_RESET_MINUTES``.
* ``request_reset(email)`` queues the mail for after the caller's commit (``notify.mail_after_commit``) when the
  address belongs to an active account, and does nothing otherwise: the page says the same in both cases, so
  it never reveals whether an address is registered. Requests are rate-limited per client address and per
  e-mail address asked for (``RATELIMIT_RESET``, ``RATELIMIT_RESET_PER_EMAIL``).
* ``reset_password(token, new)`` sets the password and, as a change of password does, ends every web session
  and remember-me cookie (``User.end_sessions``) and revokes every API token.
"""
import hashlib
import logging

from flask import current_app, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import func

from .accounts import set_new_password, validate_password
from .errors import ValidationError
from .extensions import db
from .models import User
from .notify import mail_after_commit

log = logging.getLogger(__name__)
SALT = "ipmart.password-reset"
MAX_TOKEN_LENGTH = 500


def _serializer():
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def _fingerprint(user):
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:32]


def make_token(user):
    return _serializer().dumps({"u": user.id, "p": _fingerprint(user)})


def max_age_seconds():
    return int(current_app.config.get("PASSWORD_RESET_MINUTES", 60)) * 60


def user_for_token(token):
    """The user a still-valid link belongs to; ValidationError (the same message whatever the cause) otherwise."""
    invalid = ValidationError(_("重置链接无效或已过期，请重新申请。"), {"token": _("链接无效或已过期")})
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        raise invalid
    try:
        data = _serializer().loads(token, max_age=max_age_seconds())
    except (SignatureExpired, BadSignature):
        raise invalid from None
    if not isinstance(data, dict) or not isinstance(data.get("u"), int):
        raise invalid
    user = db.session.get(User, data["u"])
    if user is None or not user.is_active or user.deleted_at is not None or data.get("p") != _fingerprint(user):
        raise invalid
    return user


def find_account(email):
    email = email.strip().lower() if isinstance(email, str) else ""
    if not email or len(email) > 254:
        return None
    user = db.session.query(User).filter(func.lower(User.email) == email).first()
    if user is None or not user.is_active or user.deleted_at is not None:
        return None
    return user


def request_reset(email):
    """Queue a reset link for the account with this address, if there is one (see the module docstring)."""
    user = find_account(email)
    if user is None:
        return
    link = url_for("auth.reset_password", token=make_token(user), _external=True)
    minutes = max_age_seconds() // 60
    with force_locale(user.locale or "zh_CN"):
        subject = _("知产超市：重置密码")
        body = "\n\n".join([
            _("您好，%(name)s：", name=user.name),
            _("有人（希望是您本人）申请重置您在知产超市的登录密码。请在 %(minutes)s 分钟内打开以下链接设置新密码，链接只能使用一次：",
              minutes=minutes),
            link,
            _("如果不是您本人申请，请忽略本邮件，您的密码不会改变。")])
    if not _queue(user, subject, body):
        log.warning("password reset asked for user %s, but no mail server is configured (SMTP_HOST)", user.id)


def _queue(user, subject, body):
    return mail_after_commit(user, subject, body)


def reset_password(token, new_password):
    """Set a new password through a reset link; raise ValidationError (changing nothing) on a bad link or password."""
    user = user_for_token(token)
    fields = {}
    validate_password(new_password if isinstance(new_password, str) else "", fields, "new_password")
    if fields:
        raise ValidationError(_("无法重置密码"), fields)
    set_new_password(user, new_password)
    return user
