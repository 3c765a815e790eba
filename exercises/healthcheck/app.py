"""healthy-app: a tiny web app on port 8000.

GET /        -> a greeting
GET /health  -> 200 "ok" while the app is well (this is what the health check asks)
"""
import http.server
import sys

PORT = 8000


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/health":
            body, code = b"ok\n", 200
        elif self.path == "/":
            body, code = b"Hello from healthy-app\n", 200
        else:
            body, code = b"not found\n", 404
        self.send_response(code)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):  # one line per request on stderr, so `docker logs` shows it
        if self.path != "/health":
            sys.stderr.write("healthy-app: " + (fmt % args) + "\n")


if __name__ == "__main__":
    print(f"healthy-app: listening on port {PORT}", flush=True)
    http.server.ThreadingHTTPServer(("0.0.0.0", PORT), Handler).serve_forever()
