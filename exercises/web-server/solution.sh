#!/usr/bin/env bash
# Reference solution for web-server. Run it from anywhere: it uses the site/ folder next to it.
# DC_PREFIX (name prefix) and DC_PORT_8080 (host port) let the course's tests run it side by side.
set -euo pipefail
cd "$(dirname "$0")"
P="${DC_PREFIX:-}"
PORT="${DC_PORT_8080:-8080}"
docker run -d --name "${P}web" -p "127.0.0.1:${PORT}:80" -v "$PWD/site":/usr/share/nginx/html:ro nginx:1.22
