"""Fake SMTP servers over real sockets, and a `flask worker` in a child process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]


class SilentSmtp:
    """Accepts TCP connections and then never answers (mode "silent"), or answers every
    command and hangs once the message data has been sent (mode "hang_after_data")."""

    def __init__(self, mode: str = "silent"):
        self.mode = mode
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(50)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.data_received = threading.Event()
        self._open: list[socket.socket] = []
        self._stop = False
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop = True
        self.sock.close()
        for conn in self._open:
            try:
                conn.close()
            except OSError:
                pass

    def _accept(self):
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            self._open.append(conn)
            if self.mode == "hang_after_data":
                threading.Thread(target=self._converse, args=(conn,), daemon=True).start()

    def _converse(self, conn):
        try:
            conn.sendall(b"220 fake ESMTP\r\n")
            buffer = b""
            in_data = False
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                buffer += chunk
                while b"\r\n" in buffer:
                    line, buffer = buffer.split(b"\r\n", 1)
                    if in_data:
                        if line == b".":
                            self.data_received.set()  # ... and never answer
                            in_data = None
                        continue
                    if in_data is None:
                        continue
                    verb = line[:4].upper()
                    if verb == b"DATA":
                        in_data = True
                        conn.sendall(b"354 go ahead\r\n")
                    elif verb in (b"EHLO", b"HELO"):
                        conn.sendall(b"250 fake\r\n")
                    else:
                        conn.sendall(b"250 ok\r\n")
        except OSError:
            return


def worker_process(
    database_uri: str,
    instance: Path,
    smtp_port: int,
    *,
    timeout: float = 60,
    poll: float = 0.1,
    extra_env: dict | None = None,
) -> subprocess.Popen:
    """`flask worker` in a child process, on the test's database, sending through 127.0.0.1:smtp_port."""
    env = dict(os.environ)
    env.update(
        {
            "FLASK_INSTANCE_PATH": str(instance),
            "FLASK_SQLALCHEMY_DATABASE_URI": database_uri,
            "FLASK_SECRET_KEY": "test-secret-key-not-for-production",
            "FLASK_MAIL_BACKEND": "smtp",
            "FLASK_MAIL_SERVER": "127.0.0.1",
            "FLASK_MAIL_PORT": str(smtp_port),
            "FLASK_MAIL_TIMEOUT": str(timeout),
            "FLASK_SEARCH_INDEX_DIR": str(instance / "search-index"),
            "FLASK_PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.pop("DATABASE_URL", None)
    env.update(extra_env or {})
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "worker", "--poll", str(poll)],
        cwd=PROJECT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def wait_for(condition, timeout: float = 30.0, interval: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")
