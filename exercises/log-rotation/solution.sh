#!/usr/bin/env bash
# Reference solution for log-rotation. DC_PREFIX lets the tests run it side by side.
set -euo pipefail
P="${DC_PREFIX:-}"
# A container that prints a line every second, whose json-file log is capped:
# at most 3 files of 10 MiB each (30 MiB in all); the oldest file is deleted when a new one starts.
docker run -d --name "${P}chatty" \
  --log-driver json-file --log-opt max-size=10m --log-opt max-file=3 \
  busybox:1.35 sh -c 'i=0; while true; do i=$((i+1)); echo "chatty line $i"; sleep 1; done'
sleep 2
# What the engine will do with the log file:
docker inspect --format '{{json .HostConfig.LogConfig}}' "${P}chatty"
docker logs --tail 2 "${P}chatty"
