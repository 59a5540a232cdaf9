"""Extension objects, created unbound and attached in the app factory."""

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_mailman import Mail
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# Stable constraint names, so migrations can alter and drop them on every database.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
mail = Mail()
limiter = Limiter(key_func=get_remote_address, default_limits=[])


def _init_limiter(app) -> None:
    """The limiter, on the configured store; a store that cannot be used at all (its client
    package missing, a malformed address) is reported instead of crashing every command:
    the limits then count in this process, `flask check-deploy` fails with the reason and
    gunicorn.conf.py refuses to start on it."""
    from limits.errors import ConfigurationError

    try:
        limiter.init_app(app)
    except (ConfigurationError, ValueError) as error:
        wanted = app.config.get("RATELIMIT_STORAGE_URI")
        app.extensions["ratelimit_storage_error"] = f"{error}"
        app.logger.error("rate-limit store cannot be used (%s); counting per process", error)
        app.config["RATELIMIT_STORAGE_URI"] = "memory://"
        limiter.init_app(app)
        app.config["RATELIMIT_STORAGE_URI"] = wanted


def init_app(app) -> None:
    from pathlib import Path

    db.init_app(app)
    migrations = Path(__file__).resolve().parent.parent / "migrations"
    migrate.init_app(app, db, directory=str(migrations), render_as_batch=True)
    csrf.init_app(app)
    _init_limiter(app)
    mail.init_app(app)
    login_manager.init_app(app)
