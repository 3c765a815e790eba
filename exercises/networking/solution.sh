#!/usr/bin/env bash
# Reference solution for networking: two containers on a network of your own, talking by name.
# DC_PREFIX lets the tests run it side by side with other runs.
set -euo pipefail
P="${DC_PREFIX:-}"

docker network create "${P}appnet"
# api: a small web server on port 8000, reachable only inside the network (no -p).
docker run -d --name "${P}api" --network "${P}appnet" python:3.11-slim python3 -m http.server 8000
# client: a busybox container that stays up, so we can run commands in it.
docker run -d --name "${P}client" --network "${P}appnet" busybox:1.35 sleep 86400

# From inside client, fetch api by its name (the server may need a moment to start).
for _ in $(seq 1 20); do
  if docker exec "${P}client" timeout 3 wget -qO- "http://${P}api:8000/" >/dev/null 2>&1; then break; fi
  sleep 0.25
done
page="$(docker exec "${P}client" wget -qO- "http://${P}api:8000/")"
echo "${page}" | head -n 5
