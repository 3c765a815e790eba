"""broken-app: a tiny web service that answers with a JSON greeting.

It reads its settings (address, port, message) from a JSON config file given with --config.
"""
import argparse
import json
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def log(text):
    print(f"broken-app: {text}", flush=True)


def load_config(path):
    log(f"reading config from {path}")
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        log(f"ERROR: config file not found: {path}")
        sys.exit(1)
    except json.JSONDecodeError as exc:
        log(f"ERROR: {path} is not valid JSON: {exc}")
        sys.exit(1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True)
    config = load_config(parser.parse_args().config)
    host, port = config.get("host", "0.0.0.0"), int(config.get("port", 8080))
    body = json.dumps({"app": "broken-app", "status": "ok", "message": config.get("message", "")}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, fmt, *args):
            log(f"{self.address_string()} {fmt % args}")

    server = ThreadingHTTPServer((host, port), Handler)
    # `docker stop` sends SIGTERM: shut down at once instead of waiting to be killed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    log(f"listening on {host}:{port}")
    server.serve_forever()


if __name__ == "__main__":
    main()
