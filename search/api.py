"""JSON API of `search` under /api/v1 (thin: parse, call a service, map errors)."""
from flask import Blueprint

from marketplace.apiutil import API_PREFIX

bp = Blueprint("search_api", __name__, url_prefix=API_PREFIX)
