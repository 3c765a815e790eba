#!/usr/bin/env bash
# Reference solution for volumes: write a row, replace the container, find the row again.
# DC_PREFIX lets the tests run it side by side with other runs.
set -euo pipefail
P="${DC_PREFIX:-}"

wait_ready() {
  # Ready means: the real server answers over TCP (during first-time setup a temporary
  # server answers on the local socket only, then restarts).
  for _ in $(seq 1 120); do
    if docker exec "${P}db" pg_isready -q -h 127.0.0.1 -U postgres; then return 0; fi
    sleep 0.5
  done
  echo "the database did not become ready; last log lines:" >&2
  docker logs --tail 20 "${P}db" >&2
  return 1
}

# 1. A named volume, and a database container that keeps its files in it.
docker volume create "${P}pgdata"
docker run -d --name "${P}db" -e POSTGRES_PASSWORD=course \
  -v "${P}pgdata:/var/lib/postgresql/data" postgres:15
wait_ready

# 2. A table with a timestamp column, and one row.
docker exec "${P}db" psql -U postgres -c \
  "CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());"
docker exec "${P}db" psql -U postgres -c \
  "INSERT INTO notes (body) VALUES ('written before the container was replaced');"

# 3. Throw the container away and start a brand-new one on the same volume.
sleep 1   # so the new container is visibly younger than the row
docker stop "${P}db"
docker rm "${P}db"
docker run -d --name "${P}db" -e POSTGRES_PASSWORD=course \
  -v "${P}pgdata:/var/lib/postgresql/data" postgres:15
wait_ready

# 4. The row is still there.
docker exec "${P}db" psql -U postgres -c "SELECT * FROM notes;"
