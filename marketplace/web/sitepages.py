"""The site's standing pages, linked from every page's footer: 帮助中心 (help), 交易规则 (trading rules),
联系我们 (contact), 用户协议 (user agreement) and 隐私政策 (privacy policy).

They are documents rather than UI strings, so each is one template per language
(``templates/pages/<name>_zh.html`` and ``<name>_en.html``; the Chinese text governs) instead of a paragraph per
catalogue entry. Every number they quote (the fee, the deadlines, the deposit cap, retention periods) is read here
from the settings and the modules that apply it, never written into the text a second time.
"""
from flask import Blueprint, current_app, render_template
from flask_babel import get_locale

from escrow import fees
from listings.vocab import DEPOSIT_MAX_BPS

from ..kernel.legal import TERMS_VERSION

bp = Blueprint("pages", __name__)


def _lang():
    return "en" if str(get_locale()).startswith("en") else "zh"


def facts():
    """The numbers the documents quote, from where each rule lives."""
    config = current_app.config
    return {
        "fee_bps": fees.current_bps(),
        "fee_percent": f"{fees.current_bps() / 100:g}",
        "fee_example": fees.quote(100_000_00),
        "deposit_max_percent": f"{DEPOSIT_MAX_BPS / 100:g}",
        "payment_days": config["PAYMENT_DAYS"],
        "transfer_days": config["TRANSFER_DAYS"],
        "inspection_days": config["INSPECTION_DAYS"],
        "offer_days": config["OFFER_DAYS"],
        "anti_sniping_minutes": config["ANTI_SNIPING_MINUTES"],
        "max_open_reservations": config["MAX_OPEN_RESERVATIONS"],
        "unpaid_strikes": config["UNPAID_STRIKES"],
        "unpaid_strike_days": config["UNPAID_STRIKE_DAYS"],
        "notification_retention_days": config["NOTIFICATION_RETENTION_DAYS"],
        "token_retention_days": config["TOKEN_RETENTION_DAYS"],
        "reset_minutes": config["PASSWORD_RESET_MINUTES"],
        "support_email": config["SUPPORT_EMAIL"],
        "privacy_email": config["PRIVACY_EMAIL"],
        "support_phone": config["SUPPORT_PHONE"],
        "support_hours": config["SUPPORT_HOURS"],
        "terms_version": TERMS_VERSION,
    }


def _page(name):
    return render_template(f"pages/{name}_{_lang()}.html", f=facts(), page=name)


@bp.get("/help")
def help_centre():
    return _page("help")


@bp.get("/rules")
def trading_rules():
    return _page("rules")


@bp.get("/contact")
def contact():
    return _page("contact")


@bp.get("/terms")
def terms():
    return _page("terms")


@bp.get("/privacy-policy")
def privacy_policy():
    return _page("privacy_policy")
