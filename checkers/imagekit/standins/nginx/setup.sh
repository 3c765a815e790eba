#!/bin/sh
# Runs inside the stand-in's root file system after the packages are installed.
set -eu
# The official image runs its workers as user `nginx` (uid/gid 101 there).
if ! getent group nginx >/dev/null; then
  if getent group 101 >/dev/null; then groupadd --system nginx; else groupadd --system --gid 101 nginx; fi
fi
if ! getent passwd nginx >/dev/null; then
  if getent passwd 101 >/dev/null; then uid_opt=""; else uid_opt="--uid 101"; fi
  useradd --system $uid_opt --gid nginx --home-dir /nonexistent --no-create-home \
          --shell /bin/false --comment "nginx user" nginx
fi
# Debian's site layout goes; the official layout (conf.d/*.conf, /usr/share/nginx/html) comes in
# with the files the Dockerfile copies.
rm -rf /etc/nginx/sites-enabled /etc/nginx/sites-available /var/www/html
mkdir -p /etc/nginx/conf.d /usr/share/nginx/html /docker-entrypoint.d /var/cache/nginx /var/log/nginx
rm -f /usr/share/nginx/html/*
# `docker logs` shows requests and errors, like the official image.
ln -sf /dev/stdout /var/log/nginx/access.log
ln -sf /dev/stderr /var/log/nginx/error.log
