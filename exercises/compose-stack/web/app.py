"""A tiny web app that counts its visitors in redis.

GET / answers "This page has been visited N times." where N is kept in redis (key `visits`).
Where redis is comes from the environment: REDIS_HOST (default "redis", the service name
in compose.yaml) and REDIS_PORT (default 6379). Only the standard library is used: the few
bytes redis expects are written by hand (redis's protocol, RESP, is plain text).
"""
import os
import signal
import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REDIS_HOST = os.environ.get("REDIS_HOST", "redis")
REDIS_PORT = int(os.environ.get("REDIS_PORT", "6379"))
PORT = int(os.environ.get("PORT", "8000"))


def redis(*args: str):
    """Send one command to redis and return its reply (an int for INCR, a str for PING)."""
    request = f"*{len(args)}\r\n" + "".join(f"${len(a.encode())}\r\n{a}\r\n" for a in args)
    with socket.create_connection((REDIS_HOST, REDIS_PORT), timeout=2) as conn:
        conn.sendall(request.encode())
        reply = conn.makefile("rb").readline().decode().strip()
    kind, value = reply[:1], reply[1:]
    if kind == "-":
        raise RuntimeError(value)
    return int(value) if kind == ":" else value


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path not in ("/", "/index.html"):
            return self.answer(404, "Not found.\n")
        try:
            count = redis("INCR", "visits")
        except (OSError, RuntimeError) as exc:
            return self.answer(503, f"Cannot reach redis at {REDIS_HOST}:{REDIS_PORT}: {exc}\n")
        self.answer(200, f"This page has been visited {count} time{'' if count == 1 else 's'}.\n")

    def answer(self, status: int, text: str):
        body = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        print(fmt % args, flush=True)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stop at once on `docker compose stop`
    print(f"Counting visits on port {PORT}, in redis at {REDIS_HOST}:{REDIS_PORT}", flush=True)
    ThreadingHTTPServer(("", PORT), Handler).serve_forever()
