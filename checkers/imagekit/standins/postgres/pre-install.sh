#!/bin/sh
# Runs inside the stand-in's root file system before the packages are installed.
set -eu
# The official image's user: postgres, uid/gid 999, home /var/lib/postgresql.
groupadd -r postgres --gid=999
useradd -r -g postgres --uid=999 --home-dir=/var/lib/postgresql --shell=/bin/bash postgres
mkdir -p /var/lib/postgresql
chown -R postgres:postgres /var/lib/postgresql
# Debian's package would create and start a cluster "main" of its own: say no before it is installed.
apt-get install -y --no-install-recommends postgresql-common
sed -ri 's/#(create_main_cluster) .*$/\1 = false/' /etc/postgresql-common/createcluster.conf
grep -q '^create_main_cluster = false' /etc/postgresql-common/createcluster.conf
