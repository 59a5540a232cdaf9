from flask import render_template

from ..extensions import db
from . import bp


@bp.route("/")
def index():
    from .home import home_page, short

    return render_template("main/index.html", home=home_page(), short=short)


@bp.route("/healthz")
def healthz():
    # Touches the database so a load balancer notices a broken connection.
    db.session.execute(db.text("SELECT 1"))
    return {"status": "ok"}
