"""``flask --app wsgi run`` and ``gunicorn wsgi:app``."""
from marketplace import create_app

app = create_app()
