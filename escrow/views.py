"""HTML pages of `escrow` (thin: parse, call a service, render)."""
from flask import Blueprint

bp = Blueprint("escrow", __name__)
