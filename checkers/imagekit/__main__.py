"""``python -m checkers.imagekit prepare|status [--force] [--json] [IMAGE ...]``"""
from __future__ import annotations

import argparse
import json
import sys

from . import COURSE_IMAGES, ImageKitError, prepare, status


def _connect():
    try:
        from ..engine import connect  # the course's engine discovery (DOCKER_HOST, contexts, sockets)

        return connect()
    except ImportError:
        import docker

        return docker.from_env()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m checkers.imagekit",
                                 description="Pull the course images, or build offline stand-ins for them.")
    ap.add_argument("action", choices=["prepare", "status"])
    ap.add_argument("image", nargs="*", help=f"images to prepare (default: all of {', '.join(COURSE_IMAGES)})")
    ap.add_argument("--force", action="store_true", help="pull or rebuild even images that are present")
    ap.add_argument("--json", action="store_true", help="print the status as JSON")
    args = ap.parse_intermixed_args(argv)
    try:
        client = _connect()
    except Exception as exc:
        print(f"imagekit: cannot reach the Docker engine: {exc}", file=sys.stderr)
        return 2
    try:
        if args.action == "prepare":
            try:
                rows = prepare(client, images=args.image or None, progress=lambda m: print(m, flush=True),
                               force=args.force)
            except ImageKitError as exc:
                print(f"imagekit: {exc}", file=sys.stderr)
                return 1
        else:
            rows = status(client)
        if args.json:
            print(json.dumps(rows, indent=2))
        else:
            for r in rows:
                size = f"{r['size'] / 1e6:.0f} MB" if r.get("size") else "-"
                print(f"{r['image']:<20} {r['source']:<9} {r.get('id') or '-':<14} {size}")
        wanted = set(args.image) if args.action == "prepare" and args.image else {r["image"] for r in rows}
        return 0 if all(r["source"] != "missing" for r in rows if r["image"] in wanted) else 1
    finally:
        client.close()


if __name__ == "__main__":
    sys.exit(main())
