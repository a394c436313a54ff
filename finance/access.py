"""Who acts for whom on the finance desk: the holder's side, banks, valuers, voucher issuers."""
from flask_babel import gettext as _

from marketplace.kernel import audit
from marketplace.kernel.errors import PermissionDenied, ValidationError
from marketplace.kernel.extensions import db
from marketplace.kernel.models import User

FINANCE_ROLES = ("bank", "valuer", "voucher_issuer")


def is_bank(user):
    """Lenders' staff: the bank role and an organisation an operator verified."""
    return (user is not None and user.has_role("bank") and user.organization_id is not None
            and user.organization.verified)


def is_issuer(user):
    return (user is not None and user.has_role("voucher_issuer") and user.organization_id is not None
            and user.organization.verified)


def is_valuer(user):
    return user is not None and user.has_role("valuer")


def require_bank(user):
    if not is_bank(user):
        raise PermissionDenied(_("只有经运营核验的银行机构的员工可以办理"))
    return user


def require_issuer(user):
    if not is_issuer(user):
        raise PermissionDenied(_("只有经运营核验的创新券发放机构可以办理"))
    return user


def require_sme(user):
    """An SME's member (a seller or buyer of an organisation): applies for loans, holds vouchers."""
    if user is None or user.organization_id is None or not (user.has_role("seller") or user.has_role("buyer")):
        raise PermissionDenied(_("只有企业（单位）账户可以办理"))
    return user


def same_side(user, organization_id, owner_id):
    """``user`` acts for the side that owns an object: its organisation, or the natural person who made it."""
    if user is None:
        return False
    if organization_id is not None:
        return user.organization_id == organization_id
    return user.id == owner_id


def db_id(raw):
    """An id from a JSON body: an int (not a bool) the database's INTEGER can hold, else None."""
    if isinstance(raw, bool) or not isinstance(raw, int) or not 0 < raw <= 2**31 - 1:
        return None
    return raw


def set_role(operator, user_id, role, grant):
    """An operator grants or removes a finance role (audited); returns the user. Bad input: 422 naming the field."""
    if operator is None or not operator.is_operator:
        raise PermissionDenied(_("只有运营人员可以设置融资角色"))
    fields = {}
    target = db.session.get(User, user_id) if db_id(user_id) else None
    if target is None:
        fields["user_id"] = _("用户不存在")
    if role not in FINANCE_ROLES:
        fields["role"] = _("应为 %(roles)s", roles=" / ".join(FINANCE_ROLES))
    if not isinstance(grant, bool):
        fields["grant"] = _("应为 true 或 false")
    if fields:
        raise ValidationError(_("角色设置有误"), fields)
    before = list(target.roles)
    target.roles = set(before) | {role} if grant else set(before) - {role}
    audit.record(operator, "user.finance_role", "user", target.id, before={"roles": before},
                 after={"roles": target.roles})
    db.session.flush()
    return target
