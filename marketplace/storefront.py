"""Storefront pages that span packages: home, statistics, language switch, notifications."""
from flask import Blueprint, redirect, render_template, request, session, url_for

from .auth import safe_next

bp = Blueprint("storefront", __name__)


@bp.get("/")
def home():
    return render_template("home.html")


@bp.get("/lang/<code>")
def set_language(code):
    from flask import current_app
    from flask_login import current_user

    from .extensions import db

    if code in current_app.config["LANGUAGES"]:
        session["locale"] = code
        if current_user.is_authenticated:
            current_user.locale = code
            db.session.commit()
    return redirect(safe_next(request.args.get("next")) or url_for("storefront.home"))
