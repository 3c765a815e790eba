#!/bin/sh
# Entrypoint of the redis stand-in, modelled on the official image's docker-entrypoint.sh.
set -e

# first arg is `-f` or `--some-option`, or `something.conf`: run redis-server with it
if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
    set -- redis-server "$@"
fi

# started as root: own the data and drop to user redis (the official image uses gosu; setpriv is
# util-linux's equivalent)
if [ "$1" = 'redis-server' ] && [ "$(id -u)" = '0' ]; then
    find . \! -user redis -exec chown redis '{}' +
    exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
fi

# set an appropriate umask (if one isn't set already)
um="$(umask)"
if [ "$um" = '0022' ]; then
    umask 0077
fi

# The official image's redis-server is compiled with protected-mode off (the container is the
# boundary). Debian's is not, so say it on the command line, unless the command line or the given
# config file sets protected-mode itself. A config file must stay the first argument.
if [ "$1" = 'redis-server' ]; then
    shift
    conf=""
    if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then conf="$1"; shift; fi
    add=yes
    for arg in "$@"; do
        case "$arg" in --protected-mode|--protected-mode=*) add=no ;; esac
    done
    if [ -n "$conf" ] && [ -r "$conf" ] && grep -qiE '^[[:space:]]*protected-mode[[:space:]]' "$conf"; then
        add=no
    fi
    if [ "$add" = yes ]; then set -- --protected-mode no "$@"; fi
    if [ -n "$conf" ]; then set -- "$conf" "$@"; fi
    set -- redis-server "$@"
fi

exec "$@"
