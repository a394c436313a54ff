"""Account forms (Flask-WTF: every form carries its CSRF token)."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectField, SelectMultipleField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from ..kernel.accounts import MAX_PASSWORD
from ..kernel.regions import REGIONS


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class LoginForm(FlaskForm):
    email = EmailField(_l("邮箱"), validators=[DataRequired(_l("必填"))])
    password = PasswordField(_l("密码"), validators=[DataRequired(_l("必填")), Length(max=MAX_PASSWORD)])
    remember = BooleanField(_l("记住我"))


class RegisterForm(FlaskForm):
    email = EmailField(_l("邮箱"), validators=[DataRequired(_l("必填"))])
    password = PasswordField(_l("密码（至少10个字符）"), validators=[DataRequired(_l("必填")), Length(max=MAX_PASSWORD)])
    name = StringField(_l("姓名"), validators=[DataRequired(_l("必填")), Length(max=100)])
    roles = MultiCheckboxField(_l("我要"), choices=[SelectChoice("seller", _l("出售/许可知识产权（卖家）")),
                                                    SelectChoice("buyer", _l("购买知识产权（买家）"))])
    org_name = StringField(_l("单位名称"), validators=[Optional(), Length(max=200)])
    org_uscc = StringField(_l("统一社会信用代码"), validators=[Optional(), Length(max=30)])
    org_region = SelectField(_l("所在地区"), choices=[SelectChoice(k, v[0]) for k, v in REGIONS.items()], default="guangzhou")
    # checked by accounts.register_user (one rule for the page and the API), so its error joins the others
    accept_terms = BooleanField(_l("我已阅读并同意《用户协议》和《隐私政策》"))


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(_l("当前密码"), validators=[DataRequired(_l("必填")), Length(max=MAX_PASSWORD)])
    new_password = PasswordField(_l("新密码（至少10个字符）"), validators=[DataRequired(_l("必填")), Length(max=MAX_PASSWORD)])


class DeleteAccountForm(FlaskForm):
    password = PasswordField(_l("当前密码"), validators=[DataRequired(_l("必填")), Length(max=MAX_PASSWORD)])
    confirm = BooleanField(_l("我明白注销后无法恢复，交易与账务记录将按法律要求保留"),
                           validators=[DataRequired(_l("请勾选确认"))])


class ForgotPasswordForm(FlaskForm):
    email = EmailField(_l("注册邮箱"), validators=[DataRequired(_l("必填")), Length(max=254)])


class ResetPasswordForm(FlaskForm):
    new_password = PasswordField(_l("新密码（至少10个字符）"), validators=[DataRequired(_l("必填")), Length(max=MAX_PASSWORD)])
    confirm_password = PasswordField(_l("再次输入新密码"), validators=[DataRequired(_l("必填")), Length(max=MAX_PASSWORD)])
