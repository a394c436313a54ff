"""Payout accounts: the bank account a seller is paid into, and the rule that a bank payout needs one verified.

The payee of a deal (``payee_of``) is the listing seller's organisation, or the seller as a natural
person when they sell without one. The payee records one current bank account (bank, branch, account
number, account name). The account name must be the payee's own name (户名与单位名称一致): the bank
checks name and number on a corporate transfer, and money paid to a third party's account cannot be
recalled. An operator verifies the account against a document, or runs the small-amount check: the
operator sends a small amount (0.01–0.99 yuan) and the seller enters it back, with
``MICRO_ATTEMPTS`` tries.

A bank payout (recorded by an operator, ``escrow.deals.mark_payout_paid``) goes only into a verified
account, and never within ``PAYOUT_ACCOUNT_HOLD_HOURS`` of a change of account: a taken-over seller
login changing the account must not redirect a payout before the seller notices. A Stripe Connect
transfer goes to the account Stripe verified (its own KYC): it needs no bank account here.

Every change and every verification is in the operators' audit log (``marketplace.kernel.audit``), with
the account number masked to its last 4 digits.
"""
import re
import unicodedata
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select

from marketplace.kernel import audit
from marketplace.kernel.errors import Conflict, NotFound, PermissionDenied, ValidationError
from marketplace.kernel.extensions import db
from marketplace.kernel.i18n import N_
from marketplace.kernel.messages import msg
from marketplace.kernel.models import Organization, User
from marketplace.kernel.notify import notify
from marketplace.kernel.timeutil import iso, local, utcnow

from .payout_models import PayoutAccount

MICRO_ATTEMPTS = 3  # wrong amounts a seller may enter back before the account must be entered again
MICRO_MIN, MICRO_MAX = 1, 99  # fen
ACCOUNT_NUMBER = re.compile(r"[0-9]{8,30}")  # Chinese bank account numbers: 8 to 30 digits (对公 often 12–25)
ACCOUNT_NUMBER_MAX = 60  # characters as typed (spaces and hyphens included)
LIMITS = {"bank": 60, "branch": 100, "account_name": 200}
REJECT_NOTE = (2, 300)  # characters of an operator's reason for rejecting an account


# --- who is paid ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Payee:
    """The party money is paid to: an organisation, or a person selling without one."""

    organization: Organization | None
    user: User | None

    @property
    def name(self):
        """The name the bank account must be held in (the organisation's, or the person's)."""
        return self.organization.name if self.organization is not None else self.user.name

    @property
    def filter(self):
        if self.organization is not None:
            return PayoutAccount.organization_id == self.organization.id
        return PayoutAccount.user_id == self.user.id

    def fields(self):
        if self.organization is not None:
            return {"organization_id": self.organization.id}
        return {"user_id": self.user.id}


def payee_of(deal):
    """The payee of a deal (or of a listing: anything with ``organization_id`` and ``seller_id``): the
    seller's organisation if any, else the seller themself."""
    if deal.organization_id is not None:
        return Payee(db.session.get(Organization, deal.organization_id), None)
    return Payee(None, db.session.get(User, deal.seller_id))


def payee_of_user(user):
    """The payee whose account ``user`` manages: their organisation, or themself."""
    if user.organization_id is not None:
        return Payee(user.organization, None)
    return Payee(None, user)


def current_account(payee):
    return db.session.execute(select(PayoutAccount).where(payee.filter, PayoutAccount.replaced_at.is_(None))
                              .order_by(PayoutAccount.id.desc())).scalars().first()


def history(payee):
    return db.session.execute(select(PayoutAccount).where(payee.filter)
                              .order_by(PayoutAccount.id.desc()).limit(20)).scalars().all()


# --- input ------------------------------------------------------------------------------------

def normalise_name(name):
    """Compare names as banks do: no spaces, full- and half-width brackets alike."""
    text = re.sub(r"\s+", "", name or "")
    return text.replace("（", "(").replace("）", ")")


def clean_bank_fields(bank, branch, account_number, account_name):
    """Validate and normalise bank details (also used for a buyer's refund account); raise ValidationError."""
    values = {k: (v.strip() if isinstance(v, str) else "") for k, v in
              {"bank": bank, "branch": branch, "account_number": account_number, "account_name": account_name}.items()}
    errors = {}
    for key, limit in LIMITS.items():
        if len(values[key]) < 2:
            errors[key] = _("必填，至少 2 个字")
        elif len(values[key]) > limit:
            errors[key] = _("不超过 %(n)s 个字", n=limit)
    number = re.sub(r"[\s-]", "", unicodedata.normalize("NFKC", values["account_number"]))  # full-width digits too
    if len(values["account_number"]) > ACCOUNT_NUMBER_MAX or not ACCOUNT_NUMBER.fullmatch(number):
        errors["account_number"] = _("银行账号应为 8–30 位数字（可含空格）")
    if errors:
        raise ValidationError(_("银行账户信息有误，未保存"), errors)
    values["account_number"] = number
    return values


def check_name(values, payee):
    if normalise_name(values["account_name"]) != normalise_name(payee.name):
        raise ValidationError(_("户名必须与收款方名称“%(name)s”一致，未保存", name=payee.name),
                              {"account_name": _("户名须为“%(name)s”", name=payee.name)})


def _masked(account):
    return None if account is None else {
        "bank": account.bank, "branch": account.branch, "account_number": account.masked_number,
        "account_name": account.account_name, "status": account.status}


def _may_manage(user):
    if not user.has_role("seller"):
        raise PermissionDenied(_("只有卖方可以登记收款账户"))


# --- the seller --------------------------------------------------------------------------------

def submit_account(user, bank, branch, account_number, account_name, now=None):
    """The seller records (or changes) the payee's bank account; it must be verified before any payout.

    A change replaces the current account (kept as history), needs verification again and holds
    bank payouts for ``PAYOUT_ACCOUNT_HOLD_HOURS`` from now. Returns the new account (flushed).
    """
    now = now or utcnow()
    _may_manage(user)
    payee = payee_of_user(user)
    values = clean_bank_fields(bank, branch, account_number, account_name)
    check_name(values, payee)
    previous = current_account(payee)
    if previous is not None and all(getattr(previous, k) == v for k, v in values.items()) \
            and previous.status != "rejected":
        raise Conflict(_("该账户已登记，无需重复提交"))
    account = PayoutAccount(**payee.fields(), **values, status="pending", submitted_by_id=user.id, created_at=now,
                            micro_attempts=0)
    if previous is not None:
        previous.replaced_at = now
        account.hold_until = now + timedelta(hours=current_app.config["PAYOUT_ACCOUNT_HOLD_HOURS"])
    db.session.add(account)
    db.session.flush()
    audit.record(user, "payout_account.change" if previous is not None else "payout_account.create",
                 "payout_account", account.id, _masked(previous), _masked(account))
    for operator_id in _operators():
        notify(operator_id, "payout_account", msg(N_("收款账户待核验：%(name)s"), name=payee.name),
               msg("%(bank)s %(masked_number)s", bank=account.bank, masked_number=account.masked_number), link="/operator/payout-accounts")
    if previous is not None:
        for member_id in _members(payee, exclude=user.id):
            notify(member_id, "payout_account", msg(N_("收款账户已变更")),
                   msg(N_("%(name)s 将收款账户改为 %(bank)s %(masked_number)s；如非本单位操作，请立即联系平台。"), name=user.name, bank=account.bank, masked_number=account.masked_number),
                   link="/account/payout-account", email=True)
    return account


def confirm_micro_deposit(user, amount, now=None):
    """The seller enters back the small amount the operator sent. Returns ``(ok, attempts_left)``.

    A wrong amount counts as an attempt (the caller commits it) and changes nothing else; after
    ``MICRO_ATTEMPTS`` wrong amounts the account is rejected and must be entered again.
    """
    now = now or utcnow()
    _may_manage(user)
    account = current_account(payee_of_user(user))
    if account is None or account.status != "pending" or account.micro_amount is None:
        raise Conflict(_("没有等待小额验证的收款账户"))
    if not isinstance(amount, int) or isinstance(amount, bool) or not MICRO_MIN <= amount <= MICRO_MAX:
        raise ValidationError(_("请填写收到的金额（0.01–0.99 元）"), {"amount": _("0.01–0.99 元")})
    if amount != account.micro_amount:
        account.micro_attempts += 1
        left = MICRO_ATTEMPTS - account.micro_attempts
        if left <= 0:
            account.status = "rejected"
            account.note = "小额验证金额多次不符"
            audit.record(user, "payout_account.micro_failed", "payout_account", account.id, None, _masked(account))
        db.session.flush()
        return False, max(left, 0)
    _verified(account, "micro_deposit", None, now)
    audit.record(user, "payout_account.verify", "payout_account", account.id, None,
                 {"method": "micro_deposit", **_masked(account)})
    return True, MICRO_ATTEMPTS - account.micro_attempts


# --- operators ----------------------------------------------------------------------------------

def _pending(account_id):
    account = db.session.get(PayoutAccount, account_id, with_for_update=True) if isinstance(account_id, int) else None
    if account is None:
        raise NotFound(_("收款账户不存在"))
    if account.replaced_at is not None or account.status != "pending":
        raise Conflict(_("该收款账户不在待核验状态"), status=account.status)
    return account


def _operator_only(operator):
    if operator is None or not operator.is_operator:
        raise PermissionDenied(_("只有平台运营可以核验收款账户"))


def _not_own(account, operator):
    if (account.organization_id and account.organization_id == operator.organization_id) \
            or account.user_id == operator.id:
        raise PermissionDenied(_("不能核验本单位的收款账户"))


def verify_account(account_id, operator, now=None):
    """An operator verified the account against a document (开户许可证 / bank statement)."""
    now = now or utcnow()
    _operator_only(operator)
    account = _pending(account_id)
    _not_own(account, operator)
    _verified(account, "operator", operator, now)
    audit.record(operator, "payout_account.verify", "payout_account", account.id, {"status": "pending"},
                 {"method": "operator", **_masked(account)})
    return account


def reject_account(account_id, operator, note, now=None):
    _operator_only(operator)
    note = note.strip() if isinstance(note, str) else ""
    if not REJECT_NOTE[0] <= len(note) <= REJECT_NOTE[1]:
        raise ValidationError(_("请说明驳回原因"), {"note": _("2–300 个字")})
    account = _pending(account_id)
    _not_own(account, operator)
    account.status = "rejected"
    account.note = note
    db.session.flush()
    audit.record(operator, "payout_account.reject", "payout_account", account.id, {"status": "pending"},
                 {"status": "rejected", "note": note})
    _tell_payee(account, msg(N_("收款账户未通过核验")), note)
    return account


def send_micro_deposit(account_id, operator, amount, now=None):
    """The operator records the small amount sent to the account; the seller enters it back."""
    now = now or utcnow()
    _operator_only(operator)
    if not isinstance(amount, int) or isinstance(amount, bool) or not MICRO_MIN <= amount <= MICRO_MAX:
        raise ValidationError(_("小额验证金额须为 0.01–0.99 元"), {"amount": _("0.01–0.99 元")})
    account = _pending(account_id)
    _not_own(account, operator)
    account.micro_amount = amount
    account.micro_sent_at = now
    account.micro_attempts = 0
    db.session.flush()
    audit.record(operator, "payout_account.micro_sent", "payout_account", account.id, None,
                 {"account_number": account.masked_number})
    _tell_payee(account, msg(N_("请完成收款账户小额验证")),
                msg(N_("平台已向 %(bank)s %(masked_number)s 转入一笔小额款项，请在收款账户页填写到账金额。"), bank=account.bank, masked_number=account.masked_number))
    return account


def _verified(account, method, operator, now):
    account.status = "verified"
    account.method = method
    account.verified_at = now
    account.verified_by_id = getattr(operator, "id", None)
    db.session.flush()
    _tell_payee(account, msg(N_("收款账户已核验")), msg(N_("%(bank)s %(masked_number)s 可用于接收交易款项。"), bank=account.bank, masked_number=account.masked_number))


def pending_accounts():
    return db.session.execute(select(PayoutAccount).where(PayoutAccount.status == "pending",
                                                          PayoutAccount.replaced_at.is_(None))
                              .order_by(PayoutAccount.created_at, PayoutAccount.id)).scalars().all()


# --- paying out ----------------------------------------------------------------------------------

def payable_account(deal, now=None):
    """The verified account a bank payout for ``deal`` may go into now, or None (see ``payout_block``)."""
    return None if payout_block(deal, now) else current_account(payee_of(deal))


def payout_block(deal, now=None):
    """Why a bank payout for ``deal`` (or to a listing's seller) cannot be made now (a sentence), or None."""
    now = now or utcnow()
    account = current_account(payee_of(deal))
    if account is None:
        return _("卖方尚未登记收款账户")
    if not account.is_verified:
        return _("卖方的收款账户尚未核验")
    if account.hold_until is not None and now < account.hold_until:
        return _("卖方于近期变更了收款账户，%(until)s 前暂停付款",
                 until=local(account.hold_until).strftime("%Y-%m-%d %H:%M"))
    return None


def require_payable_account(deal, now=None):
    """The account a bank payout goes into; Conflict (nothing changes) when there is none to pay into."""
    reason = payout_block(deal, now)
    if reason:
        raise Conflict(_("不能登记向卖方付款：%(reason)s", reason=reason), code_hint="payout_account")
    return current_account(payee_of(deal))


# --- helpers ------------------------------------------------------------------------------------

def _operators():
    return db.session.execute(select(User.id).where(User.roles_csv.contains("operator"),
                                                    User.active.is_(True))).scalars().all()


def _members(payee, exclude=None):
    if payee.organization is None:
        return [payee.user.id] if payee.user.id != exclude else []
    return [m.id for m in payee.organization.members if m.id != exclude and m.has_role("seller")]


def _tell_payee(account, title, body):
    payee = Payee(account.organization, None) if account.organization_id else Payee(None, account.user)
    for member_id in _members(payee):
        notify(member_id, "payout_account", title, body, link="/account/payout-account", email=True)


def serialize(account, *, operator=False):
    """The API shape: the full number for operators only, otherwise masked to the last 4 digits."""
    if account is None:
        return None
    return {
        "id": account.id,
        "bank": account.bank,
        "branch": account.branch,
        "account_number": account.account_number if operator else account.masked_number,
        "account_name": account.account_name,
        "status": account.status,
        "method": account.method,
        "micro_deposit_sent": account.micro_sent_at is not None,
        "micro_attempts_left": MICRO_ATTEMPTS - account.micro_attempts,
        "hold_until": iso(account.hold_until),
        "verified_at": iso(account.verified_at),
        "note": account.note,
    }
