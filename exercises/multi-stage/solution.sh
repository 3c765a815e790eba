#!/usr/bin/env bash
# Reference solution for multi-stage. DC_PREFIX lets the tests run it side by side.
set -euo pipefail
P="${DC_PREFIX:-}"
cd "$(dirname "$0")"
# 1. The single-stage reference, to compare with.
docker build -t "${P}slim-app:single" -f Dockerfile.single .
# 2. The multi-stage image (the solution's Dockerfile; the build context is this folder).
docker build -t "${P}slim-app:1.0" -f solution/Dockerfile .
# 3. Compare.
docker image ls --format '{{.Repository}}:{{.Tag}}  {{.Size}}' | grep -E "^${P}slim-app:" || true
docker history "${P}slim-app:1.0"
