"""HTML buy / offer / bid panels and dashboards."""
from flask import Blueprint

bp = Blueprint("trading", __name__)
