#!/bin/sh
# Runs inside the stand-in's root file system after the packages are installed.
set -eu
# Debian's package created the `redis` user; the official image keeps its data in /data.
mkdir -p /data
chown redis:redis /data
