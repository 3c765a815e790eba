"""hello-app: a cow says hello, in the terminal and on http://127.0.0.1:8000/.

It needs the `cowsay` package (listed in requirements.txt, shipped in wheels/).
"""
import signal
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

import cowsay

GREETING = "Hello from hello-app 1.0!"
PORT = 8000


def picture() -> str:
    return cowsay.get_output_string("cow", GREETING)


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = (picture() + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        print("request:", fmt % args, flush=True)


def stop(signum, frame):
    # `docker stop` sends SIGTERM to the container's main process. Exiting here ends the
    # container at once, instead of Docker killing it after the grace period (exit code 137).
    print("Got SIGTERM: stopping cleanly.", flush=True)
    sys.exit(0)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, stop)
    print(picture(), flush=True)
    print(f"Serving the cow on port {PORT}. Stop me with Ctrl-C or `docker stop`.", flush=True)
    try:
        HTTPServer(("", PORT), Handler).serve_forever()
    except KeyboardInterrupt:
        print("Interrupted: bye.", flush=True)
