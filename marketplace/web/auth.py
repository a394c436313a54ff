"""Sign-in pages (HTML, session cookie + CSRF) and the account API (bearer tokens)."""
import json

from flask import Blueprint, Response, current_app, flash, jsonify, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from ..kernel import accounts, password_reset
from ..kernel.apiutil import API_PREFIX, commit_after, doc, json_body, require_user
from ..kernel.errors import NotAuthenticated, ValidationError
from ..kernel.extensions import limiter
from ..kernel.viewutil import safe_next
from ..kernel.webutil import act
from . import account_schemas as sc
from . import privacy as pipl
from .forms import (
    ChangePasswordForm,
    DeleteAccountForm,
    ForgotPasswordForm,
    LoginForm,
    RegisterForm,
    ResetPasswordForm,
)

bp = Blueprint("auth", __name__)
api = Blueprint("auth_api", __name__, url_prefix=API_PREFIX)


def _login_limit():
    return current_app.config["RATELIMIT_LOGIN"]


def _register_limit():
    return current_app.config["RATELIMIT_REGISTER"]


def _reset_limit():
    return current_app.config["RATELIMIT_RESET"]


def _reset_per_email_limit():
    return current_app.config["RATELIMIT_RESET_PER_EMAIL"]


def _reset_email_key():
    """The rate-limit key for one e-mail address asked for (normalised as accounts normalise it)."""
    email = request.form.get("email", "")
    return "reset:" + (email.strip().lower()[:254] if isinstance(email, str) else "")


# --- HTML -----------------------------------------------------------------

@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def login():
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = accounts.authenticate(form.email.data, form.password.data)
        except NotAuthenticated as exc:
            form.password.errors.append(exc.message)
        else:
            login_user(user, remember=form.remember.data)
            if user.locale:
                session["locale"] = user.locale
            flash(_("欢迎回来，%(name)s", name=user.name), "success")
            return redirect(safe_next(request.args.get("next")) or url_for("storefront.home"))
    return render_template("auth/login.html", form=form)


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit(_register_limit, methods=["POST"])
def register():
    form = RegisterForm()
    if form.validate_on_submit():
        org = None
        if form.org_name.data or form.org_uscc.data:
            org = {"name": form.org_name.data, "uscc": form.org_uscc.data, "region": form.org_region.data}
        user = _in_form(form, lambda: accounts.register_user(
            form.email.data, form.password.data, form.name.data, form.roles.data, org,
            consent=bool(form.accept_terms.data)))
        if user is not None:  # committed: now signed in
            login_user(user)
            flash(_("注册成功"), "success")
            return redirect(url_for("storefront.home"))
    return render_template("auth/register.html", form=form)


def _in_form(form, work, show=None):
    """``work()`` at the commit boundary (``webutil.act``): its result once committed, or None when bad input was
    refused, each reason beside its field (``show(form, exc)`` where the page shows it otherwise)."""

    def refused(exc):
        if not isinstance(exc, ValidationError):
            raise exc
        (show or _attach_errors)(form, exc)

    return act(work, refused, show=None)


def _attach_errors(form, exc):
    mapping = {"organization.name": "org_name", "organization.uscc": "org_uscc",
               "organization.region": "org_region", "organization": "org_name"}
    for key, message in exc.fields.items():
        field = getattr(form, mapping.get(key, key), None)
        if field is not None:
            field.errors = list(field.errors) + [message]
        else:
            form.form_errors.append(message)
    if not exc.fields:
        form.form_errors.append(exc.message)


@bp.route("/logout", methods=["POST"])
def logout():
    if current_user.is_authenticated:
        # Signing out signs out everywhere: every other browser's session and remember-me cookie too.
        act(current_user.end_sessions)
    logout_user()
    flash(_("已退出登录"), "info")
    return redirect(url_for("storefront.home"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        user = current_user._get_current_object()

        def change():
            accounts.change_password(user, form.current_password.data, form.new_password.data)
            return user

        if _in_form(form, change):
            # Every other browser is signed out now; this one stays, under the new session token.
            remembered = current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token") in request.cookies
            login_user(user, remember=remembered, fresh=True)
            flash(_("密码已修改"), "success")
            return redirect(url_for("storefront.home"))
    return render_template("auth/password.html", form=form)


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit(_reset_limit, methods=["POST"])
@limiter.limit(_reset_per_email_limit, key_func=_reset_email_key, methods=["POST"])
def forgot_password():
    """Ask for a reset link. The answer is the same whether or not the address is registered."""
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        act(lambda: password_reset.request_reset(form.email.data))  # the mail goes out after the commit
        return render_template("auth/forgot_sent.html", minutes=password_reset.max_age_seconds() // 60)
    return render_template("auth/forgot.html", form=form)


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
@limiter.limit(_reset_limit, methods=["POST"])
def reset_password(token):
    """Set a new password through an e-mailed link (signed, expiring, single-use: marketplace.kernel.password_reset)."""
    try:
        password_reset.user_for_token(token)
    except ValidationError as exc:
        response = current_app.make_response((render_template("auth/reset_invalid.html", message=exc.message), 400))
        response.headers["Referrer-Policy"] = "no-referrer"
        return response
    form = ResetPasswordForm()
    if form.validate_on_submit():
        if form.new_password.data != form.confirm_password.data:
            form.confirm_password.errors = list(form.confirm_password.errors) + [_("两次输入的密码不一致")]
        else:
            user = _in_form(form, lambda: password_reset.reset_password(token, form.new_password.data))
            if user is not None:
                # This browser is signed in as that user under the new session token; every other one is out.
                if current_user.is_authenticated:
                    logout_user()
                login_user(user, fresh=True)
                flash(_("密码已重置，您已登录。其他设备上的登录已全部退出。"), "success")
                return redirect(url_for("storefront.home"))
    response = current_app.make_response(render_template("auth/reset.html", form=form))
    # the token is in this page's address: no Referer carries it anywhere
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.route("/account/privacy", methods=["GET", "POST"])
@login_required
def privacy():
    """Personal data (PIPL): download a copy of one's own data, or delete the account."""
    user = current_user._get_current_object()
    form = DeleteAccountForm()
    if form.validate_on_submit():
        if not user.check_password(form.password.data or ""):
            form.password.errors = list(form.password.errors) + [_("密码不正确")]
        else:
            def delete():
                pipl.delete_account(user)
                return user

            if _in_form(form, delete, show=lambda form, exc: form.form_errors.extend(exc.fields.values()
                                                                                     or [exc.message])):
                logout_user()
                flash(_("账号已注销。交易与账务记录按法律要求保留，其中您的姓名与邮箱已匿名化。"), "info")
                return redirect(url_for("storefront.home"))
    return render_template("account/privacy.html", form=form, blockers=pipl.deletion_blockers(user))


@bp.route("/account/privacy/export")
@login_required
def privacy_export():
    """The user's own data as a JSON download (no-store: it is personal data)."""
    data = pipl.export_user_data(current_user._get_current_object())
    body = json.dumps(data, ensure_ascii=False, indent=1)
    return Response(body, mimetype="application/json", headers={
        "Content-Disposition": f"attachment; filename=ipmart-my-data-{current_user.id}.json",
        "Cache-Control": "no-store"})


# --- JSON -----------------------------------------------------------------

@api.post("/auth/register")
@limiter.limit(_register_limit)
@doc("Register a user (and their organisation)", auth=False, tags=["accounts"], request_schema=sc.Register,
     responses={"201": sc.Registered, "422": None})
@commit_after
def api_register():
    data = json_body()
    user = accounts.register_user(data.get("email"), data.get("password"), data.get("name"),
                                  data.get("roles"), data.get("organization"),
                                  consent=data.get("accept_terms"))
    token = accounts.issue_token(user)
    return jsonify({"user": accounts.user_json(user), "token": token}), 201


@api.post("/auth/token")
@limiter.limit(_login_limit)
@doc("Exchange email and password for a bearer token (a wrong one, or an unknown e-mail: 401 without a hint)",
     auth=False, tags=["accounts"], request_schema=sc.Credentials, responses={"200": sc.TokenAnswer, "401": None})
@commit_after
def api_token():
    data = json_body()
    user = accounts.authenticate(data.get("email"), data.get("password"))
    return jsonify({"token": accounts.issue_token(user)})


@api.post("/auth/revoke")
@doc("Revoke the bearer token used for this request", tags=["accounts"],
     responses={"200": sc.Revoked, "401": None})
@commit_after
def api_revoke():
    require_user()
    token = request.headers["Authorization"][7:].strip()
    return jsonify({"revoked": accounts.revoke_token(token)})


@api.get("/me")
@doc("The signed-in user", tags=["accounts"],
     responses={"200": sc.MeAnswer, "401": None})
@commit_after
def api_me():
    return jsonify({"user": accounts.user_json(require_user())})
