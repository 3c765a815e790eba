#!/usr/bin/env bash
# Reference solution for healthcheck. DC_PREFIX lets the tests run it side by side.
set -euo pipefail
P="${DC_PREFIX:-}"
cd "$(dirname "$0")"
# 1. Build the image from the solution's Dockerfile (same folder, so app.py and healthcheck.py are found).
docker build -t "${P}healthy-app:1.0" -f solution/Dockerfile .
# 2. Run it with a restart policy.
docker run -d --name "${P}healthy" --restart unless-stopped "${P}healthy-app:1.0"
# 3. Watch the status go from "starting" to "healthy" (a few seconds).
for _ in $(seq 1 20); do
  status=$(docker inspect --format '{{.State.Health.Status}}' "${P}healthy")
  echo "health: $status"
  [ "$status" = healthy ] && break
  sleep 1
done
