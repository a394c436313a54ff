"""The app as the search benchmark serves it under gunicorn (schema made by the benchmark, not by migrations)."""
from marketplace import create_app

app = create_app({"AUTO_MIGRATE": False})
