"""A worker process for the concurrency test: approves reviews, one request-sized app context each.

Run as `python -m tests.forum.search._approver '<json>'`; prints a JSON report.
"""

from __future__ import annotations

import json
import sys
import time


def main(arguments: dict) -> dict:
    from forum import create_app
    from forum.extensions import db
    from forum.models import User
    from moderation import services as moderation

    app = create_app(arguments["config"])
    errors = []
    # Start together, so the approvals (and their index writes) really overlap.
    time.sleep(max(0.0, arguments["start_at"] - time.time()))
    for review_id in arguments["review_ids"]:
        try:
            with app.app_context():  # like one request: the index is updated at its end
                moderator = db.session.get(User, arguments["moderator_id"])
                moderation.approve_submission("review", review_id, moderator)
        except Exception as error:  # anything a moderator would have seen
            errors.append(f"{review_id}: {type(error).__name__}: {error}")
    with app.app_context():
        db.engine.dispose()
    return {"errors": errors}


if __name__ == "__main__":
    print(json.dumps(main(json.loads(sys.argv[1]))))
