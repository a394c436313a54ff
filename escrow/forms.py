"""Deal page forms (Flask-WTF: each carries its CSRF token). Amounts are typed in yuan, stored in fen."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import RadioField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from marketplace.kernel.money import parse_yuan


def _yuan(form, field):
    if field.data in (None, ""):
        return
    try:
        field.fen = parse_yuan(field.data)
    except ValueError as exc:
        raise ValidationError(str(exc)) from exc  # the parser's own reason: too many decimals, too long, not a number
    if field.fen <= 0:
        raise ValidationError(_l("金额必须大于 0"))


class ActionForm(FlaskForm):
    """A button: pay, accept."""


# Every form is built with ``prefix=<action>`` (see escrow.views.FORMS) so several can share one page.


class CancelForm(FlaskForm):
    reason = StringField(_l("取消原因（可选）"), validators=[Optional(), Length(max=1000)])


class ConfirmPaymentForm(FlaskForm):
    reference = StringField(_l("付款参考号（银行回单附言）"), validators=[DataRequired(_l("必填")), Length(max=40)])
    amount = StringField(_l("到账金额（元）"), validators=[DataRequired(_l("必填")), _yuan])


class DocumentForm(FlaskForm):
    document = FileField(_l("文件（PDF、PNG 或 JPEG，不超过 10 MB）"), validators=[FileRequired(_l("请选择文件"))])
    note = StringField(_l("备注（可选）"), validators=[Optional(), Length(max=1000)])


class DisputeForm(FlaskForm):
    reason = TextAreaField(_l("争议原因"), validators=[DataRequired(_l("必填")), Length(min=5, max=2000)])


class ResolveForm(FlaskForm):
    outcome = RadioField(_l("裁决结果"), choices=[
        SelectChoice("release", _l("放款给卖方")),
        SelectChoice("refund", _l("全额退还买方")),
        SelectChoice("split", _l("按比例分配")),
    ], validators=[DataRequired(_l("请选择裁决结果"))])
    seller_share = StringField(_l("卖方所得（元，仅按比例分配时填写）"), validators=[Optional(), _yuan])
    note = TextAreaField(_l("裁决说明"), validators=[Optional(), Length(max=1000)])

    def validate_seller_share(self, field):
        if self.outcome.data == "split" and not field.data:
            raise ValidationError(_l("按比例分配时必须填写卖方所得"))


class PayoutPaidForm(FlaskForm):
    reference = StringField(_l("银行流水号"), validators=[DataRequired(_l("必填")), Length(max=100)])


class RecordalForm(DocumentForm):
    """The approval notice with what it says (escrow.recordal checks the formats per kind)."""

    notice_number = StringField(_l("发文序号（专利）"), validators=[Optional(), Length(max=20)])
    notice_date = StringField(_l("发文日 / 公告日期（YYYY-MM-DD）"), validators=[Optional(), Length(max=10)])
    gazette_issue = StringField(_l("公告期号（商标必填）"), validators=[Optional(), Length(max=20)])
    gazette_page = StringField(_l("公告页码（商标）"), validators=[Optional(), Length(max=6)])
