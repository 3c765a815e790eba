#!/bin/sh
# Runs inside the stand-in's root file system before the packages are installed.
set -eu
# The official image's user: redis, uid/gid 999 (Debian's package keeps an existing user).
groupadd -r -g 999 redis
useradd -r -g redis -u 999 --home-dir /var/lib/redis --shell /usr/sbin/nologin --comment "redis" redis
