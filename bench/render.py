"""Full-render cost of each page, in-process (page cache off): what a signed-in member or a cache miss costs.

    python bench/render.py --instance /tmp/shop-bench-large

Complements bench/pages.py (anonymous visitors through gunicorn): here Flask's test
client calls the app directly, with the page cache off and the stored HTML warm,
and the process CPU time per request is compared with the same test client on the
bare hello world. Not a test: figures depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(0, str(BENCH))


def cpu_ms(client, path: str, n: int) -> tuple[float, int]:
    client.get(path)
    start = time.process_time()
    for _ in range(n):
        response = client.get(path)
    return (time.process_time() - start) * 1000 / n, response.status_code


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--instance", type=Path, default=Path("/tmp/shop-bench-large"))
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args()
    import hello
    import pages
    import store

    app = store.build_app(args.instance.resolve(), None)
    app.config["PAGE_CACHE_ENABLED"] = False
    base, _ = cpu_ms(hello.app.test_client(), "/", 500)
    client = app.test_client()
    print(f"hello world (test client): {base:.3f} ms CPU/request\n")
    print("| Page | full render CPU ms/req | hello/page CPU |")
    print("|---|---:|---:|")
    for label, path in pages.pick_paths(app):
        ms, status = cpu_ms(client, path, args.requests)
        print(
            f"| {label} | {ms:.2f}{'' if status == 200 else f' (HTTP {status})'} | {100 * base / ms:.1f}% |"
        )


if __name__ == "__main__":
    main()
