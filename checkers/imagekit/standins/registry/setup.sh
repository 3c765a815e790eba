#!/bin/sh
# Runs inside the stand-in's root file system after the packages are installed.
set -eu
# Debian calls the binary docker-registry; the official image calls it registry (same CLI:
# `registry serve CONFIG`, `registry garbage-collect CONFIG`, `registry --version`).
ln -sf /usr/bin/docker-registry /usr/local/bin/registry
mkdir -p /var/lib/registry
rm -rf /var/lib/docker-registry /etc/init.d/docker-registry
