#!/bin/sh
# Entrypoint of the registry stand-in, as in the official registry:2 image:
# `docker run registry:2 /path/config.yml` and `docker run registry:2 serve|garbage-collect ...` work.
set -e

case "$1" in
    *.yaml|*.yml) set -- registry serve "$@" ;;
    serve|garbage-collect|help|-*) set -- registry "$@" ;;
esac

exec "$@"
