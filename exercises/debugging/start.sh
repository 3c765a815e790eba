#!/bin/sh
# Starts broken-app with its config file.
echo "broken-app: starting"
python3 /app/server.py --config "$APP_CONFIG" &
echo "broken-app: started"
