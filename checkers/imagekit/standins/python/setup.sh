#!/bin/sh
# Runs inside the stand-in's root file system after the packages are installed.
set -eu
# The official image's pip installs into the system interpreter without complaint (PEP 668 off).
rm -f /usr/lib/python3*/EXTERNALLY-MANAGED
# `pip` and `pip3` both exist (python3-pip); `python` comes from python-is-python3.
command -v pip >/dev/null || ln -s pip3 /usr/bin/pip
