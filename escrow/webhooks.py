"""Payment gateway webhooks (Stripe), signature-verified; the only CSRF-exempt POST."""
from flask import Blueprint

from marketplace.apiutil import API_PREFIX

bp = Blueprint("webhooks", __name__, url_prefix=API_PREFIX)
