"""Page benchmark: the large store against a bare Flask hello world, same gunicorn settings, one run.

    python bench/pages.py                       # builds /tmp/shop-bench-large first if missing
    python bench/pages.py --instance DIR --duration 5 --connections 4

Both apps run under `gunicorn -w 2` (sync workers). For each page, `wrk` drives
the hello world and then the page, back to back (interleaved, so both see the
same machine load), and the script prints per page: requests per second, p99
latency, server CPU milliseconds per request (utime + stime of the workers,
read from /proc before and after), each also as a percentage of the adjacent
hello-world run (for CPU: hello CPU / page CPU, higher is better), and SQL
statements per request (counted in-process: an anonymous visitor served from
the page cache, and the same page rendered in full with the cache off).

Not a test: figures depend on the machine and its load (printed with the table).
Anonymous visitors: wrk sends no cookie, so the page cache and 304s apply
(wrk does not send If-None-Match: every answer is a full 200).
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

CLK_TCK = os.sysconf("SC_CLK_TCK")

# Targets: CPU per request as a share of the hello world's.
TARGETS = {"product page": 50, "topic": 50, "search": 10}
DEFAULT_TARGET = 25


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=30)


def start_gunicorn(module: str, port: int, cwd: Path, env: dict) -> subprocess.Popen:
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        # Both apps with exactly these settings: not the project's gunicorn.conf.py (its
        # production check refuses a bench setup, and the hello world has none).
        "--config",
        os.devnull,
        "-w",
        "2",
        "-k",
        "sync",
        "-b",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
        module,
    ]
    process = subprocess.Popen(command, cwd=cwd, env=env, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).read()
            return process
        except Exception:
            time.sleep(0.3)
    process.kill()
    raise SystemExit(f"gunicorn for {module} did not start")


def workers_of(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return [int(pid) for pid in children]


def cpu_ticks(pids) -> int:
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total


def run_wrk(url: str, duration: int, connections: int) -> dict:
    out = subprocess.run(
        ["wrk", "-t", "2", "-c", str(connections), "-d", f"{duration}s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "requests": requests,
        "rps": rps,
        "p99_ms": float(p99.group(1)) * scale,
        "errors": int(non_2xx.group(1)) if non_2xx else 0,
    }


def measure(url: str, master: int, duration: int, connections: int) -> dict:
    for _ in range(3):  # warm: first views fill stored HTML and the page cache
        urllib.request.urlopen(url, timeout=60).read()
    pids = workers_of(master)
    before = cpu_ticks(pids)
    result = run_wrk(url, duration, connections)
    result["cpu_ms"] = (cpu_ticks(pids) - before) * 1000 / CLK_TCK / max(result["requests"], 1)
    return result


def pick_paths(app) -> list[tuple[str, str]]:
    from sqlalchemy import func, select

    from forum.blog.models import BlogPost
    from forum.catalog.models import Product, Review
    from forum.community.models import ForumCategory, ForumTopic
    from forum.extensions import db

    with app.app_context():
        product = db.session.scalar(select(Product).order_by(Product.review_count.desc(), Product.id))
        review = db.session.scalar(select(Review.id).where(Review.status == "published").order_by(Review.id))
        category = db.session.scalar(
            select(ForumCategory).order_by(ForumCategory.topic_count.desc(), ForumCategory.id)
        )
        topic = db.session.scalar(select(ForumTopic.id).order_by(ForumTopic.post_count.desc(), ForumTopic.id))
        post = db.session.scalar(
            select(BlogPost.slug).where(BlogPost.status == "published").order_by(BlogPost.id)
        )
        assert db.session.scalar(select(func.count()).select_from(Review)) > 0
        return [
            ("home", "/"),
            ("product list", "/products"),
            ("product page", f"/products/{product.sku}"),
            ("review page", f"/reviews/{review}"),
            ("forum index", "/forums"),
            (f"forum category ({category.topic_count:,} topics)", f"/forums/{category.slug}"),
            ("topic", f"/forums/topics/{topic}"),
            ("blog index", "/blog"),
            ("blog post", f"/blog/{post}"),
            ("Atom feed", "/blog/feed.atom"),
            ("reviews API", f"/api/products/{product.sku}/reviews"),
            ("search", "/search?q=battery"),
        ]


def statements_per_request(app, path: str) -> tuple[int, int]:
    """(anonymous from the page cache, full render with the cache off)."""
    from sqlalchemy import event

    from forum.extensions import db
    from forum.speed import pagecache

    counts = []
    for cache in (True, False):
        app.config["PAGE_CACHE_ENABLED"] = cache
        client = app.test_client()
        client.get(path)
        with app.app_context():
            engine = db.engine
        seen = []
        listener = lambda *a, **k: seen.append(1)  # noqa: E731, B023  (listener is removed before the next iteration)
        event.listen(engine, "before_cursor_execute", listener)
        reads = pagecache.token_reads
        try:
            client.get(path)
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        counts.append(
            len(seen) + pagecache.token_reads - reads
        )  # + the versions read on their own connection
    app.config["PAGE_CACHE_ENABLED"] = True
    return counts[0], counts[1]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--instance", type=Path, default=Path("/tmp/shop-bench-large"))
    parser.add_argument("--database-url")
    parser.add_argument("--duration", type=int, default=5, help="seconds of wrk per run")
    parser.add_argument("--connections", type=int, default=4)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: install it (Debian: apt-get install wrk) and run again.")
    instance = args.instance.resolve()
    import store

    if not args.database_url and not (instance / "forum.sqlite3").exists():
        print(f"building the large store in {instance} (bench/store.py)...", flush=True)
        store.build(instance, None)
    app = store.build_app(instance, args.database_url)
    paths = pick_paths(app)

    env = {k: v for k, v in os.environ.items() if not k.startswith("FLASK_") and k != "DATABASE_URL"}
    env.update(
        FLASK_INSTANCE_PATH=str(instance),
        FLASK_SECRET_KEY=secrets.token_hex(32),
        FLASK_RATELIMIT_ENABLED="false",
        FLASK_MAIL_BACKEND="locmem",
        DATABASE_URL=args.database_url or f"sqlite:///{instance / 'forum.sqlite3'}",
        FLASK_SEARCH_INDEX_DIR=str(instance / "search-index"),
        PYTHONPATH=str(ROOT),
    )
    hello_port, app_port = free_port(), free_port()
    hello = start_gunicorn("hello:app", hello_port, BENCH, env)
    try:
        shop = start_gunicorn("wsgi:app", app_port, ROOT, env)
    except BaseException:  # never leave the hello world serving
        stop(hello)
        raise
    rows = []
    try:
        load_before = os.getloadavg()
        for label, path in paths:
            base = measure(f"http://127.0.0.1:{hello_port}/", hello.pid, args.duration, args.connections)
            page = measure(f"http://127.0.0.1:{app_port}{path}", shop.pid, args.duration, args.connections)
            cached, full = statements_per_request(app, path)
            rows.append((label, path, base, page, cached, full))
            print(
                f"  measured {label}: {page['rps']:.0f} req/s, {page['cpu_ms']:.2f} ms CPU "
                f"(hello {base['cpu_ms']:.2f} ms)",
                flush=True,
            )
        load_after = os.getloadavg()
    finally:
        for process in (hello, shop):
            stop(process)

    print()
    print(
        f"Machine: {os.cpu_count()} CPUs, {platform_name()}; load average before {load_before[0]:.2f}, "
        f"after {load_after[0]:.2f}; wrk -t2 -c{args.connections} -d{args.duration}s; gunicorn -w 2 (sync)."
    )
    print()
    header = (
        "| Page | req/s | % hello | p99 ms | % hello | CPU ms/req | hello/page CPU | target | "
        "SQL/req cached | SQL/req full |"
    )
    print(header)
    print("|---|---:|---:|---:|---:|---:|---:|---|---:|---:|")
    for label, _path, base, page, cached, full in rows:
        key = "forum category" if label.startswith("forum category") else label
        target = TARGETS.get(key, DEFAULT_TARGET)
        share = 100 * base["cpu_ms"] / page["cpu_ms"] if page["cpu_ms"] else float("inf")
        verdict = "ok" if share >= target else "MISSED"
        errors = f" ({page['errors']} errors)" if page["errors"] else ""
        print(
            f"| {label} | {page['rps']:.0f}{errors} | {100 * page['rps'] / base['rps']:.0f}% | "
            f"{page['p99_ms']:.1f} | {100 * base['p99_ms'] / page['p99_ms']:.0f}% | {page['cpu_ms']:.2f} | "
            f"{share:.0f}% | ≥{target}% {verdict} | {cached} | {full} |"
        )
    hello_cpu = sum(r[2]["cpu_ms"] for r in rows) / len(rows)
    hello_rps = sum(r[2]["rps"] for r in rows) / len(rows)
    print(
        f"\nHello world (mean of the {len(rows)} interleaved runs): {hello_rps:.0f} req/s, {hello_cpu:.2f} ms CPU/req."
    )


def platform_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine()


if __name__ == "__main__":
    main()
