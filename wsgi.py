"""Entry point for `flask run` and `gunicorn wsgi:app`."""

from forum import create_app

app = create_app()
