#!/usr/bin/env bash
# Reference solution for first-image: builds solution/Dockerfile (your own Dockerfile is left alone).
# DC_PREFIX (name prefix) lets the course's tests run it side by side.
set -euo pipefail
cd "$(dirname "$0")"
P="${DC_PREFIX:-}"
docker build -t "${P}hello-app:1.0" -f solution/Dockerfile .
