#!/bin/sh
# Runs inside the stand-in's root file system after the packages are installed.
set -eu
# The official image's default locale (LANG=en_US.utf8).
localedef -i en_US -c -f UTF-8 -A /usr/share/locale/locale.alias en_US.UTF-8
# New clusters listen on all addresses (initdb copies this sample into postgresql.conf).
sample=/usr/share/postgresql/15/postgresql.conf.sample
sed -ri "s!^#?(listen_addresses)\s*=\s*\S+.*!\1 = '*'!" "$sample"
grep -F "listen_addresses = '*'" "$sample" >/dev/null
mkdir -p /docker-entrypoint-initdb.d
mkdir -p /var/run/postgresql && chown -R postgres:postgres /var/run/postgresql && chmod 3777 /var/run/postgresql
mkdir -p /var/lib/postgresql/data && chown -R postgres:postgres /var/lib/postgresql/data && chmod 1777 /var/lib/postgresql/data
# The official image also answers to /docker-entrypoint.sh.
ln -sf usr/local/bin/docker-entrypoint.sh /docker-entrypoint.sh
# ssl-cert made a snakeoil key pair while installing; an image should not ship a private key.
rm -f /etc/ssl/private/ssl-cert-snakeoil.key /etc/ssl/certs/ssl-cert-snakeoil.pem
