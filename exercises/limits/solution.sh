#!/usr/bin/env bash
# Reference solution for limits. DC_PREFIX lets the tests run it side by side.
set -euo pipefail
P="${DC_PREFIX:-}"
# 1. A long-running container with three caps: 256 MiB of memory, half a CPU, 100 processes.
docker run -d --name "${P}capped" --memory 256m --cpus 0.5 --pids-limit 100 busybox:1.35 tail -f /dev/null
docker inspect --format 'Memory={{.HostConfig.Memory}} NanoCpus={{.HostConfig.NanoCpus}} PidsLimit={{.HostConfig.PidsLimit}}' "${P}capped"

# 2. A container that takes memory until its 32 MiB limit stops it. `tail /dev/zero` looks for the
#    end of a line in an endless stream of zero bytes, keeping everything it has read in memory.
#    --memory-swap equal to --memory means no swap, so the kernel kills it as soon as it is full.
#    `docker run` then reports exit code 137, which is expected here: `|| true` lets the script go on.
docker run --name "${P}hog" --memory 32m --memory-swap 32m busybox:1.35 tail /dev/zero || true
docker inspect --format 'OOMKilled={{.State.OOMKilled}} ExitCode={{.State.ExitCode}}' "${P}hog"
