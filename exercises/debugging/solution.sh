#!/usr/bin/env bash
# Reference solution for debugging: build the fixed files from solution/ and run them.
# (A learner fixes the files in this folder instead; the commands are the same.)
# DC_PREFIX and DC_PORT_8081 let the tests run it side by side with other runs.
set -euo pipefail
P="${DC_PREFIX:-}"
PORT="${DC_PORT_8081:-8081}"
cd "$(dirname "$0")"
docker build -q -t "${P}broken-app" solution
docker rm -f "${P}broken-app" 2>/dev/null || true
docker run -d --name "${P}broken-app" -p "127.0.0.1:${PORT}:8080" "${P}broken-app"
# It stays up and answers:
for _ in $(seq 1 40); do
  if curl -fsS "http://127.0.0.1:${PORT}/" 2>/dev/null; then echo; exit 0; fi
  sleep 0.25
done
echo "broken-app did not answer on 127.0.0.1:${PORT}; its logs:" >&2
docker logs "${P}broken-app" >&2
exit 1
