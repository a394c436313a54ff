"""HTML pages for quality grades (rubric page, operator grading queue, calibration)."""
from flask import Blueprint

bp = Blueprint("grading", __name__)
