"""HTML pages of `search` (thin: parse, call a service, render)."""
from flask import Blueprint

bp = Blueprint("search", __name__)
