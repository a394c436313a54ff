"""Pay pages for card / Alipay / WeChat Pay through Stripe (Payment Element)."""
from flask import Blueprint

bp = Blueprint("payments", __name__)
