"""safe-app: a tiny web app on port 8000 that needs no privileges at all.

At start it reads its message from /app/message.txt (so the files must be readable by the user
the app runs as). It never writes anywhere except, if it had to, /tmp.
"""
import http.server
import os
import sys

PORT = 8000

with open("/app/message.txt", encoding="utf-8") as f:
    MESSAGE = f.read().strip()


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"{MESSAGE}\nI run as uid {os.getuid()}.\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        sys.stderr.write("safe-app: " + (fmt % args) + "\n")


if __name__ == "__main__":
    print(f"safe-app: running as uid {os.getuid()}, listening on port {PORT}", flush=True)
    http.server.ThreadingHTTPServer(("0.0.0.0", PORT), Handler).serve_forever()
