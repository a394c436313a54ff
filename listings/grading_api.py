"""JSON API for quality grades."""
from flask import Blueprint

from marketplace.apiutil import API_PREFIX

bp = Blueprint("grading_api", __name__, url_prefix=API_PREFIX)
