"""The anchor of the page benchmark: a bare Flask hello world, served the same way (gunicorn -w 2)."""

from flask import Flask

app = Flask(__name__)


@app.route("/")
def hello():
    return "Hello, World!"
