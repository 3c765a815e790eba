#!/usr/bin/env bash
# Reference solution for registry: run your own registry and push an image to it.
# DC_PREFIX and DC_PORT_5000 let the tests run it side by side with other runs.
set -euo pipefail
P="${DC_PREFIX:-}"
PORT="${DC_PORT_5000:-5000}"
REF="localhost:${PORT}/${P}hello-app:1.0"

# 1. The registry, with its storage in a named volume, reachable only from this machine.
docker volume create "${P}registry-data"
docker run -d --name "${P}registry" -p "127.0.0.1:${PORT}:5000" \
  -v "${P}registry-data:/var/lib/registry" registry:2

# Wait until its API answers.
for _ in $(seq 1 40); do
  if curl -fsS "http://127.0.0.1:${PORT}/v2/" >/dev/null 2>&1; then break; fi
  sleep 0.25
done

# 2. Build hello-app with a name that points at the registry, and push it there.
cd "$(dirname "$0")"
docker build -q -t "${REF}" .
docker push "${REF}"

# 3. Ask the registry what it holds.
curl -fsS "http://127.0.0.1:${PORT}/v2/${P}hello-app/tags/list"; echo
