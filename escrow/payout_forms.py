"""Forms of the payout-account and refund pages (Flask-WTF, each with its CSRF token)."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from .forms import _yuan
from .payouts import ACCOUNT_NUMBER_MAX, LIMITS, REJECT_NOTE


class BankAccountForm(FlaskForm):
    """A payout account (seller) or a refund account (buyer); ``escrow.payouts.clean_bank_fields`` decides."""

    bank = StringField(_l("开户银行"), validators=[DataRequired(_l("必填")), Length(max=LIMITS["bank"])])
    branch = StringField(_l("开户支行"), validators=[DataRequired(_l("必填")), Length(max=LIMITS["branch"])])
    account_number = StringField(_l("银行账号"), validators=[DataRequired(_l("必填")), Length(max=ACCOUNT_NUMBER_MAX)])
    account_name = StringField(_l("户名"), validators=[DataRequired(_l("必填")), Length(max=LIMITS["account_name"])])


class MicroDepositForm(FlaskForm):
    amount = StringField(_l("到账金额（元）"), validators=[DataRequired(_l("必填")), Length(max=12), _yuan])


class RejectForm(FlaskForm):
    note = StringField(_l("驳回原因"), validators=[DataRequired(_l("必填")), Length(max=REJECT_NOTE[1])])


class ReferenceForm(FlaskForm):
    reference = StringField(_l("银行流水号"), validators=[DataRequired(_l("必填")), Length(max=100)])
