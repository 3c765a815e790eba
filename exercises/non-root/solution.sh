#!/usr/bin/env bash
# Reference solution for non-root. DC_PREFIX lets the tests run it side by side.
set -euo pipefail
P="${DC_PREFIX:-}"
cd "$(dirname "$0")"
# 1. Build the image: its Dockerfile ends with `USER app`.
docker build -t "${P}safe-app:1.0" -f solution/Dockerfile .
# 2. Run it locked down: read-only root, a tmpfs for /tmp, no capabilities, no privilege gain.
docker run -d --name "${P}safe" --read-only --tmpfs /tmp --cap-drop ALL \
  --security-opt no-new-privileges "${P}safe-app:1.0"
# 3. Confirm from inside.
sleep 1
docker exec "${P}safe" id -u
docker exec "${P}safe" touch /probe || echo "writing to / fails, as it should"
