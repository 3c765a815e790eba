#!/bin/sh
# Run inside the stand-in's root file system (chroot) as the last step before it is packed.
# Removes what an image does not need: package caches and lists, docs, logs, build helpers.
set -eu
apt-get clean
rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/cache/debconf/*-old /var/lib/dpkg/*-old
find /usr/share/doc -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
find /usr/share/doc -mindepth 1 -type d -empty -delete 2>/dev/null || true
rm -rf /usr/share/man/* /usr/share/info/* /usr/share/groff/* /usr/share/lintian/* /usr/share/linda/*
find /usr/share/locale -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} + 2>/dev/null || true
find /var/log -type f -delete
rm -rf /tmp/* /var/tmp/* /root/.cache /root/.wget-hsts
find /usr/lib/python3* -depth -type d -name __pycache__ -exec rm -rf {} + 2>/dev/null || true
rm -f /usr/sbin/policy-rc.d /etc/apt/apt.conf.d/99dockercourse-build
: > /etc/resolv.conf
: > /etc/hostname
[ ! -e /etc/machine-id ] || : > /etc/machine-id
