#!/bin/sh
# Starts broken-app with its config file.
echo "broken-app: starting"
# `exec` makes the server the container's main process (no `&`): the container runs as long as it does.
exec python3 /app/server.py --config "$APP_CONFIG"
