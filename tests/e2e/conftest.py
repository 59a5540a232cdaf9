"""Browser tests: the app in a real server process, driven through Debian's Chromium.

Fixtures for every area's browser tests (all tests in tests/e2e are marked `e2e`):

- `live_server` (session): the site's base URL, e.g. "http://127.0.0.1:41234" (a str,
  so `live_server + "/login"` works). gunicorn serves `wsgi:app` with 2 workers from a
  fresh SQLite database, migrated in a temporary instance folder. Rate limits are off;
  CSRF, security headers and everything else are as in production. It also offers:
    .instance_path / .mail_dir   the instance folder and where mail is written
    .create_user(email, role="member", password=E2E_PASSWORD, display_name=None)
                                 runs `flask users create ... --password-stdin` against it
    .flask(*args, input=None)    any other `flask` command against the same instance
    .mails(to=None)              messages sent so far (email.message.EmailMessage, oldest first)
    .wait_for_mail(to, subject=None)   the newest matching message (waits a little)
    .log()                       the server's output so far
  Mail uses the development backend: each message is saved as <instance>/mail/*.eml.
- `create_user` (session): shortcut for `live_server.create_user`.
- `serve(root)`: a context manager starting another such server on its own instance under
  `root` (for tests that fill a site with their own data, e.g. `flask demo`).
- `browser` (session): headless Chromium from /usr/bin/chromium (never `playwright install`).
- `page` (per test): a page in a fresh browser context with `base_url=live_server`, so
  `page.goto("/login")` works. `new_page(**context_options)` makes more (e.g. a phone
  viewport or a second user).
- `browser_errors` (per test): console errors, uncaught page errors, CSP violations and
  failed sub-resources (CSS, images...) of every page the test opened. At the end of each
  test they must be empty, else the test errors; a test that expects some marks itself
  `@pytest.mark.allow_browser_errors` and inspects `browser_errors` itself.
  An HTTP error status of the page itself (e.g. 422 for a refused form) is not a browser
  error: assert the status in the test.

Without /usr/bin/chromium (or the playwright package) the browser tests are skipped with
the reason; when CI=true they fail instead, so CI never passes without running them.
"""

from __future__ import annotations

import email
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.policy import default as default_policy
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
E2E_DIR = Path(__file__).resolve().parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-gpu",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
E2E_PASSWORD = "e2e correct horse battery staple"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "allow_browser_errors: the test expects console/page errors and checks browser_errors itself",
    )


def pytest_collection_modifyitems(config, items):
    for item in items:
        if E2E_DIR in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.e2e)


def _browser_problem() -> str | None:
    if not CHROMIUM.exists():
        return f"Debian's Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[test]')"
    return None


def _require_browser() -> None:
    problem = _browser_problem()
    if problem is None:
        return
    if in_ci():
        pytest.fail(f"browser tests must run in CI (CI=true), but {problem}", pytrace=False)
    pytest.skip(f"browser tests skipped: {problem}")


# --- the server ----------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class E2EUser:
    email: str
    password: str
    role: str
    display_name: str


class LiveServer(str):
    """The base URL, with helpers to act on the same instance from outside the browser."""

    url: str
    instance_path: Path
    mail_dir: Path
    env: dict
    log_path: Path

    def __new__(cls, url: str, instance_path: Path, env: dict, log_path: Path):
        server = super().__new__(cls, url)
        server.url = url
        server.instance_path = instance_path
        server.mail_dir = instance_path / "mail"
        server.env = env
        server.log_path = log_path
        return server

    def flask(self, *args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [sys.executable, "-m", "flask", *args],
            cwd=PROJECT_ROOT,
            env=self.env,
            input=input,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"flask {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
            )
        return result

    def create_user(
        self, email: str, role: str = "member", password: str = E2E_PASSWORD, display_name: str | None = None
    ) -> E2EUser:
        display_name = display_name or email.split("@", 1)[0].replace(".", " ").title()
        self.flask(
            "users",
            "create",
            email,
            "--role",
            role,
            "--display-name",
            display_name,
            "--password-stdin",
            input=password + "\n",
        )
        return E2EUser(email.lower(), password, role, display_name)

    def mails(self, to: str | None = None) -> list[email.message.EmailMessage]:
        messages = []
        for path in sorted(self.mail_dir.glob("*.eml")) if self.mail_dir.exists() else []:
            message = email.message_from_bytes(path.read_bytes(), policy=default_policy)
            if to is None or message["To"].lower() == to.lower():
                messages.append(message)
        return messages

    def wait_for_mail(
        self, to: str, subject: str | None = None, timeout: float = 10
    ) -> email.message.EmailMessage:
        deadline = time.monotonic() + timeout
        while True:
            found = [m for m in self.mails(to) if subject is None or m["Subject"] == subject]
            if found:
                return found[-1]
            if time.monotonic() > deadline:
                raise AssertionError(f"no mail to {to} ({subject or 'any subject'}) in {self.mail_dir}")
            time.sleep(0.1)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def _server_env(instance: Path, url: str) -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("FLASK_") and k not in {"DATABASE_URL", "TEST_DATABASE_URL"}
    }
    env.update(
        FLASK_INSTANCE_PATH=str(instance),
        FLASK_SECRET_KEY=secrets.token_hex(32),
        FLASK_RATELIMIT_ENABLED="false",
        FLASK_MAIL_BACKEND="forum.mail.DevelopmentEmailBackend",
        FLASK_SITE_URL=url,
        FLASK_PASSWORD_HASH_METHOD="pbkdf2:sha256:1000",  # fast; production keeps scrypt
        FLASK_WORKER_IN_PROCESS="false",  # as in production: `flask worker` beside gunicorn
        FLASK_WORKER_POLL_SECONDS="0.2",
        PYTHONUNBUFFERED="1",
    )
    return env


def _stop_with_parent() -> None:
    """In the server process: get SIGTERM when pytest dies, even if it is killed
    (e.g. by a CI timeout) before the fixture can stop the server."""
    try:
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux: the fixture's finaliser still stops it
        pass


@contextmanager
def serve(root: Path):
    """A gunicorn server on a fresh, migrated SQLite instance under `root` (a LiveServer)."""
    instance = root / "instance"
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = _server_env(instance, url)
    server = LiveServer(url, instance, env, root / "server.log")

    # All migration heads: a fresh database, as `flask demo` makes it.
    server.flask("db", "upgrade", "heads")

    with open(server.log_path, "ab") as log:
        process = subprocess.Popen(
            # Not the production gunicorn.conf.py: its deploy check (tested in test_deploy.py)
            # rightly refuses this development-style test instance.
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--config",
                os.devnull,
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
                "--threads",
                "4",
                "--timeout",
                "60",
                "--graceful-timeout",
                "5",
                "--access-logfile",
                "-",
                "--error-logfile",
                "-",
                "wsgi:app",
            ],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_stop_with_parent,
        )
        worker = subprocess.Popen(
            [sys.executable, "-m", "flask", "worker"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_stop_with_parent,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(url + "/healthz", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the server did not start on {url}:\n{server.log()}", pytrace=False)
            time.sleep(0.2)
        yield server
    finally:
        for child in (process, worker):
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
                try:
                    child.wait(15)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory):
    with serve(tmp_path_factory.mktemp("live-server")) as server:
        yield server


@pytest.fixture(scope="session")
def create_user(live_server):
    return live_server.create_user


# --- the browser ---------------------------------------------------------------


@pytest.fixture(scope="session")
def playwright_instance():
    _require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright_instance):
    browser = playwright_instance.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
    )
    yield browser
    browser.close()


@dataclass
class BrowserErrors:
    """What went wrong in the browser while the test ran."""

    console: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    csp_violations: list[str] = field(default_factory=list)
    failed_resources: list[str] = field(default_factory=list)

    def all(self) -> list[str]:
        return [*self.console, *self.page_errors, *self.csp_violations, *self.failed_resources]

    def __bool__(self) -> bool:
        return bool(self.all())

    def clear(self) -> None:
        for items in (self.console, self.page_errors, self.csp_violations, self.failed_resources):
            items.clear()


# Reports CSP violations through a binding: init scripts and bindings are not subject to the CSP.
_CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.__reportCspViolation(`${event.violatedDirective} blocked ${event.blockedURI || "inline"} `
    + `on ${event.documentURI} (${event.sourceFile || ""}:${event.lineNumber || ""})`);
});
"""


def _watch(context, errors: BrowserErrors) -> None:
    documents: set[str] = set()

    context.expose_binding("__reportCspViolation", lambda source, text: errors.csp_violations.append(text))
    context.add_init_script(_CSP_LISTENER)

    def on_response(response):
        if response.request.resource_type == "document":
            documents.add(response.url)
        elif response.status >= 400:
            errors.failed_resources.append(
                f"{response.status} {response.request.resource_type} {response.url}"
            )

    def on_request_failed(request):
        # ERR_ABORTED: the browser cancelled it because the test navigated on (e.g. the favicon).
        if request.resource_type != "document" and "ERR_ABORTED" not in (request.failure or ""):
            errors.failed_resources.append(f"failed {request.resource_type} {request.url}: {request.failure}")

    def on_console(message):
        if message.type != "error":
            return
        text = message.text
        # The page's own HTTP status (e.g. 422 for a refused form) is the test's business.
        if text.startswith("Failed to load resource") and message.location.get("url") in documents:
            return
        errors.console.append(f"{text} ({message.location.get('url')})")

    def on_page(page):
        page.on("console", on_console)
        page.on("pageerror", lambda error: errors.page_errors.append(str(error)))

    context.on("response", on_response)
    context.on("requestfailed", on_request_failed)
    context.on("page", on_page)


@pytest.fixture
def browser_errors():
    return BrowserErrors()


@pytest.fixture
def new_page(browser, live_server, browser_errors, request):
    """new_page(**context_options) -> a page in its own fresh context (own cookies)."""
    contexts = []

    def make(**options):
        options.setdefault("base_url", str(live_server))
        context = browser.new_context(**options)
        context.set_default_timeout(20_000)  # generous: CI machines can be busy
        _watch(context, browser_errors)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()
    if request.node.get_closest_marker("allow_browser_errors") is None:
        assert not browser_errors, "errors in the browser:\n" + "\n".join(browser_errors.all())


@pytest.fixture
def page(new_page):
    return new_page()
