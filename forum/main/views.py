from flask import jsonify, render_template

from . import bp


@bp.route("/")
def index():
    from .home import home_page, short

    return render_template("main/index.html", home=home_page(), short=short)


@bp.route("/healthz")
def healthz():
    """For the load balancer and monitoring: the database answers, a worker runs, queues move.

    503 when the database is unreachable, or when rows wait and no worker was seen for
    WORKER_STALE_SECONDS.
    """
    from ..worker import health

    body, status = health()
    response = jsonify(body)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response
