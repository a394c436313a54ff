"""JSON API for purchases, offers and bids."""
from flask import Blueprint

from marketplace.apiutil import API_PREFIX

bp = Blueprint("trading_api", __name__, url_prefix=API_PREFIX)
