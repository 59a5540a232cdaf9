from flask.cli import AppGroup

audit_cli = AppGroup("audit", help="Check the moderation log.")
