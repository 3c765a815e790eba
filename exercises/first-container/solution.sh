#!/usr/bin/env bash
# Reference solution for first-container. DC_PREFIX lets the tests run it side by side.
set -euo pipefail
P="${DC_PREFIX:-}"
docker run --name "${P}hello" busybox:1.35 echo "Hello from my first container"
