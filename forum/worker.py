"""`flask worker`: everything that must not happen inside a request.

One long-running process (run as many as you like, on as many hosts as share the
database) that
  - turns password reset requests into reset mail (or nothing, for an unknown
    address) and sends the mail outbox within a second of the commit (retries with back-off are
    part of the same pass: a failed message becomes due again after its back-off);
  - applies the search outbox within a second;
  - runs the scheduled jobs registered on the app with `register_job`.

The job schedule lives in the database (`worker_job`: one row per job with its next
run time), not in the process: every worker sees the same schedule, and a job runs
once at a time across all of them. On PostgreSQL a worker holds an advisory lock
for the job while it runs (released by the server if the worker dies); on SQLite
it holds a lease on the row naming its process, taken over at once when that
process is gone. An in-process scheduling library would run every job in every
worker, so none is used: the loop below only asks the database what is due.

`start_in_background(app)` runs the same loops in daemon threads of a web process:
`flask demo`, and `flask run` in development (WORKER_IN_PROCESS), so mail shows at
once without a second terminal. No cron job is needed in any setup.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import cast

import click
from flask import Flask, current_app
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from .extensions import db
from .mail import owner_is_gone, process_identity, send_pending
from .models import OutboxMessage, PasswordResetRequest, WorkerHeartbeat, WorkerJob
from .timeutil import utcnow

log = logging.getLogger("forum.worker")
HEARTBEAT_SECONDS = 5  # how often a worker refreshes its heartbeat row (well under WORKER_STALE_SECONDS)

DEFAULTS = {
    "WORKER_POLL_SECONDS": 1.0,  # how often the outboxes are looked at
    "WORKER_STALE_SECONDS": 300,  # /healthz answers 503 when no worker was seen for this long while rows wait
    "WORKER_IN_PROCESS": None,  # run the worker in threads of the web process; None: in development only
    "WORKER_INLINE": False,  # tests only: run the outbox drains at the end of each app context
    "WORKER_HEARTBEAT_KEEP_DAYS": 7,  # heartbeat rows of stopped workers are deleted after this
}


# --- the job registry (on the app) ------------------------------------------------


@dataclass
class Job:
    name: str
    func: Callable[[], int | None] | str  # a callable, or its dotted path ("pkg.module.function")
    every: timedelta
    lease: timedelta  # SQLite: how long a run may take before another worker may start it

    def resolve(self) -> Callable[[], int | None]:
        if callable(self.func):
            return self.func
        module, _, name = self.func.rpartition(".")
        return getattr(importlib.import_module(module), name)


def jobs(app: Flask) -> dict[str, Job]:
    return app.extensions.setdefault("worker_jobs", {})


def register_job(
    app: Flask,
    name: str,
    func: Callable[[], int | None] | str,
    every: timedelta | float,
    *,
    lease: timedelta | float | None = None,
) -> Job:
    """Run `func()` (in an app context, returning a count or None) every `every` (timedelta or seconds).

    Registering the same name again replaces the job (an app factory may run twice).
    """
    if not isinstance(every, timedelta):
        every = timedelta(seconds=float(every))
    if every <= timedelta(0):
        raise ValueError(f"job {name!r}: `every` must be positive")
    if lease is None:
        lease = max(timedelta(minutes=30), every)
    elif not isinstance(lease, timedelta):
        lease = timedelta(seconds=float(lease))
    job = Job(name=name, func=func, every=every, lease=lease)
    jobs(app)[name] = job
    return job


# --- running one job once at a time -------------------------------------------------


def _advisory_key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(f"forum.worker:{name}".encode()).digest()[:8], "big", signed=True)


def _ensure_row(session: Session, job: Job) -> None:
    if session.get(WorkerJob, job.name) is not None:
        return
    session.add(WorkerJob(name=job.name, next_run_at=utcnow()))
    try:
        session.commit()
    except IntegrityError:  # another worker created it first
        session.rollback()


def _take(session: Session, job: Job, postgres: bool) -> bool:
    """Claim the job's due run with a conditional UPDATE (under the advisory lock on PostgreSQL)."""
    now = utcnow()
    conditions = [WorkerJob.name == job.name, WorkerJob.next_run_at <= now]
    if not postgres:
        row = session.get(WorkerJob, job.name, populate_existing=True)
        session.rollback()
        if row is None or row.next_run_at > now:
            return False
        if row.lease_until is not None and row.lease_until > now and not owner_is_gone(row.lease_owner):
            return False
        conditions.append(
            WorkerJob.lease_until.is_(None)
            if row.lease_until is None
            else WorkerJob.lease_until == row.lease_until
        )
    result = session.execute(
        update(WorkerJob)
        .where(*conditions)
        .values(lease_owner=process_identity(), lease_until=now + job.lease, last_started_at=now)
    )
    session.commit()
    return cast(CursorResult, result).rowcount == 1


def run_job_if_due(job: Job) -> bool:
    """Run `job` if it is due and no other worker runs it now. Returns whether it ran."""
    engine = db.engine
    postgres = engine.dialect.name == "postgresql"
    lock_connection = None
    locked = False
    try:
        with Session(engine, expire_on_commit=False) as session:
            _ensure_row(session, job)
            if postgres:
                # A session-level advisory lock on a connection of its own: held while the job
                # runs, released by the server at once if this process dies.
                lock_connection = engine.connect()
                got = lock_connection.execute(
                    text("SELECT pg_try_advisory_lock(:key)"), {"key": _advisory_key(job.name)}
                ).scalar()
                lock_connection.commit()
                if not got:
                    return False
                locked = True
            if not _take(session, job, postgres):
                return False
            started = time.monotonic()
            result, error = None, None
            try:
                result = job.resolve()()
                db.session.commit()
            except Exception as exc:  # logged and recorded; the next run comes all the same
                db.session.rollback()
                error = f"{type(exc).__name__}: {exc}"[:2000]
                log.exception("job %s failed", job.name)
            finally:
                db.session.remove()
            finished = utcnow()
            retry = job.every if error is None else min(job.every, timedelta(minutes=10))
            session.execute(
                update(WorkerJob)
                .where(WorkerJob.name == job.name, WorkerJob.lease_owner == process_identity())
                .values(
                    lease_owner=None,
                    lease_until=None,
                    last_finished_at=finished,
                    next_run_at=finished + retry,
                    last_error=error,
                    last_result=result if isinstance(result, int) else None,
                )
            )
            session.commit()
            if error is None:
                log.info("job %s done in %.1f s: %s", job.name, time.monotonic() - started, result)
            return True
    finally:
        if lock_connection is not None:
            try:
                if locked:
                    lock_connection.execute(
                        text("SELECT pg_advisory_unlock(:key)"), {"key": _advisory_key(job.name)}
                    )
                    lock_connection.commit()
            finally:
                lock_connection.close()


def run_due_jobs() -> int:
    """Run every registered job that is due (one after the other). Returns how many ran."""
    ran = 0
    now = utcnow()
    with Session(db.engine) as session:  # one cheap look at the schedule before taking any lock
        next_runs = dict(session.execute(select(WorkerJob.name, WorkerJob.next_run_at)).all())
    for job in list(jobs(current_app).values()):
        if job.name in next_runs and next_runs[job.name] > now:
            continue
        try:
            ran += run_job_if_due(job)
        except Exception:  # the database went away for a moment: try again next round
            log.exception("could not run job %s", job.name)
    return ran


def run_job_now(name: str):
    """Run one job at once in this process (the `flask worker run-job` command), outside its schedule."""
    job = jobs(current_app)[name]
    result = job.resolve()()
    db.session.commit()
    return result


# --- heartbeat and health ---------------------------------------------------------------


def beat(started_at=None) -> None:
    now = utcnow()
    me = process_identity()
    with Session(db.engine) as session:
        result = session.execute(
            update(WorkerHeartbeat).where(WorkerHeartbeat.worker_id == me).values(seen_at=now)
        )
        if cast(CursorResult, result).rowcount == 0:
            host, pid, _ = me.rsplit(":", 2)
            session.add(
                WorkerHeartbeat(
                    worker_id=me, hostname=host, pid=int(pid), started_at=started_at or now, seen_at=now
                )
            )
        session.commit()


def forget_old_heartbeats() -> int:
    limit = utcnow() - timedelta(days=current_app.config["WORKER_HEARTBEAT_KEEP_DAYS"])
    result = db.session.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.seen_at < limit))
    db.session.commit()
    return cast(CursorResult, result).rowcount or 0


def health() -> tuple[dict, int]:
    """The body and status of /healthz."""
    from .search.models import SearchOutbox

    now = utcnow()
    try:
        db.session.execute(text("SELECT 1"))
    except Exception:
        db.session.rollback()
        return {"status": "unavailable", "database": "unreachable"}, 503
    config = current_app.config

    def seconds_since(moment) -> int | None:
        return None if moment is None else max(0, int((now - moment).total_seconds()))

    waiting_mail = [
        OutboxMessage.sent_at.is_(None),
        OutboxMessage.given_up_at.is_(None),
        OutboxMessage.attempts < config["MAIL_MAX_ATTEMPTS"],
    ]
    try:
        seen = seconds_since(db.session.scalar(select(func.max(WorkerHeartbeat.seen_at))))
        mail_pending, mail_oldest = db.session.execute(
            select(func.count(), func.min(OutboxMessage.created_at))
            .select_from(OutboxMessage)
            .where(*waiting_mail)
        ).one()
        search_pending, search_oldest = db.session.execute(
            select(func.count(), func.min(SearchOutbox.created_at)).select_from(SearchOutbox)
        ).one()
        # Password-reset requests wait for the worker too (it mails the link, or forgets them).
        reset_pending, reset_oldest = db.session.execute(
            select(func.count(), func.min(PasswordResetRequest.created_at)).select_from(PasswordResetRequest)
        ).one()
    except SQLAlchemyError:  # it answers, but not with our tables (not migrated)
        db.session.rollback()
        return {"status": "unavailable", "database": "schema not up to date"}, 503
    body = {
        "database": "ok",
        "worker_seen_seconds_ago": seen,
        "mail_outbox": {"pending": mail_pending, "oldest_seconds": seconds_since(mail_oldest) or 0},
        "search_outbox": {"pending": search_pending, "oldest_seconds": seconds_since(search_oldest) or 0},
        "password_reset_requests": {
            "pending": reset_pending,
            "oldest_seconds": seconds_since(reset_oldest) or 0,
        },
    }
    stale = seen is None or seen > config["WORKER_STALE_SECONDS"]
    healthy = not (stale and (mail_pending or search_pending or reset_pending))
    body["status"] = "ok" if healthy else "worker missing"
    return body, 200 if healthy else 503


# --- the loops ------------------------------------------------------------------------


class Worker:
    """The worker's three loops, each in its own thread so a stalled mail server never
    holds up the search index or the jobs (and the other way round)."""

    def __init__(self, app: Flask, poll: float | None = None):
        self.app = app
        self.poll = float(poll if poll is not None else app.config["WORKER_POLL_SECONDS"])
        self.stop_event = threading.Event()
        self.threads: list[threading.Thread] = []
        self.started_at = utcnow()
        self.last_beat = time.monotonic()

    def _loop(self, name: str, step: Callable[[], float | None]) -> None:
        failures = 0
        while not self.stop_event.is_set():
            with self.app.app_context():
                try:
                    pause = step()
                    failures = 0
                except Exception:
                    failures += 1
                    pause = min(60.0, self.poll * 2**failures)
                    log.exception("worker %s loop failed; again in %.0f s", name, pause)
                finally:
                    db.session.remove()
            self.stop_event.wait(self.poll if pause is None else pause)

    def mail_step(self) -> float | None:
        from .accounts.services import resolve_password_reset_requests

        # Password reset requests become mail here (the form only stores the address),
        # so the link is sent in the same pass.
        resolved = resolve_password_reset_requests()
        sent, failed = send_pending(stop_on_failure=True)
        if failed:
            return min(60.0, max(self.poll, 5.0))  # the server is probably down: do not hammer it
        return 0 if sent or resolved else None

    def search_step(self) -> float | None:
        from .search.indexing import drain_all

        report = drain_all()
        return 0 if report.applied and not (report.busy or report.failed) else None

    def schedule_step(self) -> float | None:
        if time.monotonic() - self.last_beat >= HEARTBEAT_SECONDS:
            beat(self.started_at)
            self.last_beat = time.monotonic()
        run_due_jobs()
        return None

    def start(self) -> Worker:
        with self.app.app_context():
            forget_old_heartbeats()
            beat(self.started_at)
        for name, step in (
            ("mail", self.mail_step),
            ("search", self.search_step),
            ("schedule", self.schedule_step),
        ):
            thread = threading.Thread(
                target=self._loop, args=(name, step), name=f"worker-{name}", daemon=True
            )
            thread.start()
            self.threads.append(thread)
        return self

    def stop(self, timeout: float = 30.0) -> None:
        self.stop_event.set()
        for thread in self.threads:
            thread.join(timeout)

    def run_forever(self) -> None:
        """Run until SIGTERM or SIGINT; a send in progress is finished first."""

        def stop(signum, frame):
            log.info("worker stopping (signal %s)", signum)
            self.stop_event.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        self.start()
        while not self.stop_event.wait(1.0):
            pass
        self.stop()


_background: dict[int, Worker] = {}
_background_lock = threading.Lock()


def start_in_background(app: Flask) -> Worker:
    """Start the worker loops in daemon threads of this process (once per app)."""
    with _background_lock:
        worker = _background.get(id(app))
        if worker is None:
            worker = _background[id(app)] = Worker(app).start()
            app.logger.info("worker running in this process (mail and search are handled within a second)")
        return worker


def in_process_wanted(app: Flask) -> bool:
    setting = app.config.get("WORKER_IN_PROCESS")
    if setting is not None:
        return bool(setting)
    from .cli import DEVELOPMENT_MAIL_BACKEND

    return not app.testing and (app.debug or app.config.get("MAIL_BACKEND") == DEVELOPMENT_MAIL_BACKEND)


# --- the built-in jobs ---------------------------------------------------------------------


def _search_check_every(app: Flask) -> timedelta:
    return timedelta(minutes=float(app.config["SEARCH_CHECK_MINUTES"]))


def register_builtin_jobs(app: Flask) -> None:
    register_job(
        app,
        "search-check",
        "forum.search.indexing.repair_drift",
        _search_check_every(app),
        lease=timedelta(hours=2),
    )
    register_job(app, "search-cleanup", "forum.search.indexing.cleanup_index", timedelta(hours=1))
    register_job(app, "worker-heartbeats", forget_old_heartbeats, timedelta(days=1))
    register_job(
        app, "removal-purge-expired", "moderation.removal.services.purge_expired", timedelta(hours=1)
    )
    register_job(
        app,
        "removal-overdue-notices",
        "moderation.removal.services.notify_overdue_requesters",
        timedelta(minutes=15),
    )
    register_job(
        app, "removal-moderator-reminder", "moderation.removal.services.remind_moderators", timedelta(days=1)
    )
    register_job(
        app, "removal-retention", "moderation.removal.services.erase_retained_requests", timedelta(days=1)
    )


def init_app(app: Flask) -> None:
    for key, value in DEFAULTS.items():
        app.config.setdefault(key, value)
    app.extensions.setdefault("worker_jobs", {})
    register_builtin_jobs(app)

    @app.before_request
    def _start_worker_in_development():
        if id(app) not in _background and in_process_wanted(app):
            start_in_background(app)

    app.cli.add_command(worker_cli)


# --- command line ----------------------------------------------------------------------------


@click.group(
    "worker",
    invoke_without_command=True,
    help=("Run the worker (mail, search index, scheduled jobs) until stopped; or inspect it."),
)
@click.option(
    "--poll",
    type=click.FloatRange(0.05, 60),
    default=None,
    help="Seconds between looks at the outboxes (default WORKER_POLL_SECONDS).",
)
@click.pass_context
def worker_cli(ctx, poll):
    if ctx.invoked_subcommand is not None:
        return
    app = current_app._get_current_object()
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    log.setLevel(logging.INFO)
    worker = Worker(app, poll)
    click.echo(
        f"Worker {process_identity()} started: mail and search outboxes every {worker.poll:g} s, "
        f"{len(jobs(app))} scheduled job(s). Stop it with Ctrl+C or SIGTERM."
    )
    worker.run_forever()
    click.echo("Worker stopped.")


@worker_cli.command("status")
def worker_status():
    """Show the workers seen lately and the scheduled jobs."""
    now = utcnow()
    beats = db.session.scalars(
        select(WorkerHeartbeat).order_by(WorkerHeartbeat.seen_at.desc()).limit(20)
    ).all()
    if not beats:
        click.echo("No worker has run yet: start one with `flask worker`.")
    for hb in beats:
        click.echo(
            f"worker {hb.worker_id}: seen {int((now - hb.seen_at).total_seconds())} s ago, "
            f"running since {hb.started_at:%Y-%m-%d %H:%M} UTC"
        )
    rows = {row.name: row for row in db.session.scalars(select(WorkerJob))}
    for name, job in sorted(jobs(current_app).items()):
        row = rows.get(name)
        last = (
            f"last run {row.last_finished_at:%Y-%m-%d %H:%M} UTC"
            if row and row.last_finished_at
            else "never run"
        )
        due = f"next {row.next_run_at:%Y-%m-%d %H:%M} UTC" if row else "due now"
        error = f"; last error: {row.last_error}" if row and row.last_error else ""
        click.echo(f"job {name}: every {job.every}, {last}, {due}{error}")


@worker_cli.command("run-job")
@click.argument("name")
def worker_run_job(name):
    """Run the scheduled job NAME once now, in this process."""
    if name not in jobs(current_app):
        raise click.ClickException(f"No job {name!r}; known: {', '.join(sorted(jobs(current_app)))}")
    result = run_job_now(name)
    click.echo(f"{name}: {result if result is not None else 'done'}")


__all__ = ["Job", "Worker", "health", "jobs", "register_job", "run_due_jobs", "start_in_background"]
