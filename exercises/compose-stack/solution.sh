#!/usr/bin/env bash
# Reference solution for compose-stack: starts solution/compose.yaml as the project `compose-stack`
# (your own compose.yaml is left alone). DC_PREFIX (name prefix) and DC_PORT_8000 (host port) let
# the course's tests run it side by side.
set -euo pipefail
cd "$(dirname "$0")"
P="${DC_PREFIX:-}"
export WEB_PORT="${DC_PORT_8000:-8000}"
docker compose -p "${P}compose-stack" --project-directory . -f solution/compose.yaml up -d --build
