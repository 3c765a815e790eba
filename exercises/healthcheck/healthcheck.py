"""Health probe for healthy-app: exit 0 if the app answers /health with 200, else exit 1.

It uses only Python's standard library, because Python is what the image has (no curl, no wget).
"""
import sys
import urllib.request

try:
    with urllib.request.urlopen("http://127.0.0.1:8000/health", timeout=2) as resp:
        sys.exit(0 if resp.status == 200 else 1)
except Exception as exc:  # connection refused, timeout, HTTP error ...
    print(f"health probe failed: {exc}")
    sys.exit(1)
