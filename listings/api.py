"""JSON API of `listings` under /api/v1 (thin: parse, call a service, map errors)."""
from flask import Blueprint

from marketplace.apiutil import API_PREFIX

bp = Blueprint("listings_api", __name__, url_prefix=API_PREFIX)
