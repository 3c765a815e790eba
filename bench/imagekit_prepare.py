"""Time `images prepare`: cold (every image pulled or built again) and warm (everything present).

    python bench/imagekit_prepare.py              # warm only (touches nothing)
    sudo python bench/imagekit_prepare.py --cold  # rebuild each image (force=True), then warm
    sudo python bench/imagekit_prepare.py --cold --fresh-base   # ... and debootstrap the base again

"Cold" rebuilds with ``force=True`` image by image, which replaces each tag in place: containers of
other people that use the old image keep running, and nothing is removed first. With
``--fresh-base`` the cached debootstrap tarball is deleted and rebuilt (timed on its own line).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from checkers.imagekit import COURSE_IMAGES, cache_dir, prepare, status  # noqa: E402


def _connect():
    try:
        from checkers.engine import connect

        return connect()
    except ImportError:
        import docker

        return docker.from_env()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cold", action="store_true", help="rebuild (or re-pull) every image, one at a time")
    ap.add_argument("--fresh-base", action="store_true", help="with --cold: debootstrap the base again")
    ap.add_argument("--warm-runs", type=int, default=3)
    ap.add_argument("-v", "--verbose", action="store_true", help="show prepare's progress lines")
    args = ap.parse_args()
    client = _connect()
    say = print if args.verbose else (lambda _m: None)
    try:
        if args.cold:
            total = 0.0
            if args.fresh_base:
                from checkers.imagekit import debian

                cache = cache_dir()
                (cache / "work").mkdir(parents=True, exist_ok=True)
                (cache / "logs").mkdir(parents=True, exist_ok=True)
                base = debian.base_tarball(cache)
                base.unlink(missing_ok=True)
                t0 = time.monotonic()
                debian.ensure_base(cache, cache / "logs" / "base.log", say)
                dt = time.monotonic() - t0
                total += dt
                print(f"cold  debootstrap base (bookworm minbase)      {dt:6.1f} s  "
                      f"({base.stat().st_size / 1e6:.0f} MB tarball)")
            for ref in COURSE_IMAGES:
                t0 = time.monotonic()
                rows = prepare(client, images=[ref], progress=say, force=True)
                dt = time.monotonic() - t0
                total += dt
                row = next(r for r in rows if r["image"] == ref)
                print(f"cold  {ref:<20} {row['source']:<9}            {dt:6.1f} s  "
                      f"({(row['size'] or 0) / 1e6:.0f} MB)")
            print(f"cold  total                                    {total:6.1f} s")
        times = []
        for _ in range(max(1, args.warm_runs)):
            t0 = time.monotonic()
            prepare(client, progress=say)
            times.append(time.monotonic() - t0)
        print(f"warm  prepare (all present), {len(times)} runs: median {statistics.median(times):.2f} s, "
              f"max {max(times):.2f} s")
        for r in status(client):
            size = f"{r['size'] / 1e6:.0f} MB" if r.get("size") else "-"
            print(f"size  {r['image']:<20} {r['source']:<9} {r.get('id') or '-':<14} {size}")
        return 0
    finally:
        client.close()


if __name__ == "__main__":
    sys.exit(main())
