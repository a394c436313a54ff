"""Forms of the operator console and of the account pages about trust (licence, credit, appeals)."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import HiddenField, IntegerField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

VIOLATION_CHOICES = [("infringement", _l("侵权")), ("counterfeiting", _l("假冒")), ("fraud", _l("欺诈")),
                     ("non_performance", _l("不履行交易")), ("restored", _l("信用修复"))]
LEVEL_CHOICES = [("warned", _l("警示")), ("restricted", _l("受限（不能新发布挂牌、不能竞拍、不能购买）")),
                 ("blacklisted", _l("黑名单（不能挂牌、竞拍、报价、购买）")), ("good", _l("良好（仅用于信用修复）"))]


class LicenceForm(FlaskForm):
    licence = FileField(_l("营业执照（PDF、PNG 或 JPEG，不超过 10 MB）"))


class VerifyForm(FlaskForm):
    decision = RadioField(_l("核验结果"), choices=[("verify", _l("通过核验：信用代码与营业执照一致")),
                                                 ("unverify", _l("取消/不予核验"))],
                          validators=[DataRequired(_l("必填"))])
    note = TextAreaField(_l("备注（取消核验时必填，会通知该单位）"), validators=[Optional(), Length(max=1000)])


class CreditRecordForm(FlaskForm):
    subject_type = HiddenField(validators=[DataRequired()])
    subject_id = HiddenField(validators=[DataRequired()])
    violation = SelectField(_l("违规类型"), choices=VIOLATION_CHOICES)
    level = SelectField(_l("信用等级"), choices=LEVEL_CHOICES)
    description = TextAreaField(_l("事实与依据"), validators=[DataRequired(_l("必填")), Length(max=4000)])
    deal_id = IntegerField(_l("相关交易编号（可选）"), validators=[Optional(), NumberRange(min=1)])
    evidence = FileField(_l("证据材料（PDF、PNG 或 JPEG，可选）"))


class AppealForm(FlaskForm):
    note = TextAreaField(_l("申诉理由"), validators=[DataRequired(_l("必填")), Length(max=4000)])


class AppealDecisionForm(FlaskForm):
    decision = RadioField(_l("处理结果"), choices=[("upheld", _l("维持原记录")), ("revoked", _l("撤销该记录"))],
                          validators=[DataRequired(_l("必填"))])
    reply = TextAreaField(_l("处理理由（会通知当事方）"), validators=[DataRequired(_l("必填")), Length(max=4000)])


class AccountSearchForm(FlaskForm):
    class Meta:
        csrf = False

    q = StringField(_l("邮箱、姓名、单位名称或统一社会信用代码"), validators=[Optional(), Length(max=100)])
