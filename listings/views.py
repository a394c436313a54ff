"""HTML pages of `listings` (thin: parse, call a service, render)."""
from flask import Blueprint

bp = Blueprint("listings", __name__)
