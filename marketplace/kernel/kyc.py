"""Organisation verification (KYC): a member uploads the business licence (营业执照),
an operator checks it against the USCC and sets or clears the verified badge.

The licence is served only to the organisation's members and to operators.
Uploading a new licence clears the badge: the new document has to be checked again.
"""
from flask_babel import gettext as _

from . import audit
from .credit import ensure_can
from .errors import NotFound, PermissionDenied, ValidationError
from .extensions import db
from .i18n import N_
from .messages import msg
from .models import Organization, User
from .notify import notify
from .timeutil import utcnow
from .uploads import save_upload, upload_path
from .uscc import InvalidUSCC, normalize_uscc

LICENCE_AREA = "licences"
MAX_NOTE = 1000


def uscc_check(org):
    """(ok, message) for the organisation's USCC: the check character and the shape."""
    try:
        normalize_uscc(org.uscc)
    except InvalidUSCC as exc:
        return False, str(exc)
    return True, _("校验位正确")


def upload_licence(user, file_storage, now=None):
    """A member of an organisation uploads its business licence (PDF, PNG or JPEG)."""
    org = user.organization
    if org is None:
        raise PermissionDenied(_("您的账户未关联单位，无法上传营业执照"))
    ensure_can(user, "verify")
    stored, _kind, _size, _original = save_upload(file_storage, field="licence", area=LICENCE_AREA)
    before = {"business_licence": bool(org.business_licence), "verified": org.verified}
    org.business_licence = stored
    if org.verified:
        org.verified = False
        org.verified_at = None
    audit.record(user, "organization.licence_upload", "organization", org.id, before,
                 {"business_licence": True, "verified": org.verified})
    db.session.flush()
    return org


def can_view_licence(user, org):
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    return user.is_operator or (user.organization_id is not None and user.organization_id == org.id)


def licence_file(user, org_id):
    """(path, stored_name) of the organisation's licence for a caller allowed to see it; else NotFound."""
    org = db.session.get(Organization, org_id)
    if org is None or not org.business_licence or not can_view_licence(user, org):
        raise NotFound(_("文件不存在"))
    path = upload_path(org.business_licence, area=LICENCE_AREA)
    if not path.exists():
        raise NotFound(_("文件不存在"))
    return path, org.business_licence


def set_verified(operator, org_id, verified, note="", now=None):
    """Set (``verified=True``) or clear the organisation's verified badge; audit and notify members."""
    if operator is None or not operator.is_operator:
        raise PermissionDenied(_("只有运营人员可以核验单位"))
    org = db.session.get(Organization, org_id)
    if org is None:
        raise NotFound(_("单位不存在"))
    note = (note or "").strip()
    if len(note) > MAX_NOTE:
        raise ValidationError(_("备注过长"), {"note": _("最多 %(n)s 个字符", n=MAX_NOTE)})
    if verified:
        if org.credit_level == "blacklisted":
            raise ValidationError(_("该单位在黑名单中，不能授予核验标识"), {"credit_level": _("黑名单")})
        ok, message = uscc_check(org)
        if not ok:
            raise ValidationError(_("统一社会信用代码校验未通过，不能核验"), {"uscc": message})
        if not org.business_licence:
            raise ValidationError(_("该单位尚未上传营业执照，不能核验"), {"licence": _("未上传")})
    elif not note:
        raise ValidationError(_("取消核验须写明原因"), {"note": _("必填")})
    before = {"verified": org.verified, "verified_at": org.verified_at}
    org.verified = bool(verified)
    org.verified_at = (now or utcnow()) if verified else None
    audit.record(operator, "organization.verify" if verified else "organization.unverify", "organization", org.id,
                 before, {"verified": org.verified, "verified_at": org.verified_at, "note": note or None})
    title = msg(N_("贵单位已通过平台核验") if verified else N_("贵单位的核验标识已被取消"))
    for member in org.members:
        notify(member, "kyc", title, note, link="/account/organization")
    db.session.flush()
    return org


def kyc_queue():
    """Organisations waiting for a check: not verified, with a licence uploaded (oldest first)."""
    return (db.session.query(Organization)
            .filter(Organization.verified.is_(False), Organization.business_licence.isnot(None))
            .order_by(Organization.created_at, Organization.id).all())


def find_accounts(query, limit=50):
    """Users by email or name, organisations by name or USCC (case-insensitive substring)."""
    query = (query or "").replace("\x00", "").strip()  # PostgreSQL cannot compare text holding NUL
    if not query:
        return [], []
    like = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    users = (db.session.query(User)
             .filter(db.or_(User.email.ilike(like, escape="\\"), User.name.ilike(like, escape="\\")))
             .order_by(User.id).limit(limit).all())
    orgs = (db.session.query(Organization)
            .filter(db.or_(Organization.name.ilike(like, escape="\\"),
                           Organization.uscc.ilike(like.upper(), escape="\\")))
            .order_by(Organization.id).limit(limit).all())
    return users, orgs
