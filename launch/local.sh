#!/bin/bash
# N training processes on this machine, each with its own simulated CPU devices: the
# multi-host code path (tests/train/test_multihost.py) without a cluster.
#
#   bash launch/local.sh 2 configs/tiny.py /tmp/tiny2 [more `flowpose train` arguments]
#
# Environment (optional): FLOWPOSE_LOCAL_DEVICES devices per process (default 4),
# FLOWPOSE_PORT coordinator port (default: a free one). SIGTERM/SIGINT are forwarded to
# every process (they save a checkpoint at one agreed step and exit). Exits with the
# first failing process's status, after stopping the others; 0 when all succeed.
set -uo pipefail
N=${1:?number of processes, e.g. 2}
CONFIG=${2:?config file, e.g. configs/tiny.py}
WORKDIR=${3:?workdir shared by the processes}
shift 3
PYTHON=${PYTHON:-python}
DEVICES=${FLOWPOSE_LOCAL_DEVICES:-4}
PORT=${FLOWPOSE_PORT:-$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("localhost", 0)); print(s.getsockname()[1])')}

pids=()
for ((i = 0; i < N; i++)); do
  JAX_PLATFORMS=cpu XLA_FLAGS="${XLA_FLAGS:-} --xla_force_host_platform_device_count=$DEVICES" \
    "$PYTHON" -m flowpose_jax.cli train --distributed --coordinator_address "localhost:$PORT" \
    --num_processes "$N" --process_id "$i" --config "$CONFIG" --workdir "$WORKDIR" "$@" &
  pids+=($!)
done
forward() { kill -s "$1" "${pids[@]}" 2>/dev/null; }
trap 'forward TERM' TERM
trap 'forward INT' INT

rc=0
running=("${pids[@]}")
while ((${#running[@]} > 0)); do
  unset pid
  wait -n -p pid "${running[@]}"
  status=$?
  if [[ -z "${pid:-}" ]]; then continue; fi  # woken by a forwarded signal: keep waiting
  still=()
  for p in "${running[@]}"; do [[ $p == "$pid" ]] || still+=("$p"); done
  running=("${still[@]}")
  if ((status != 0 && rc == 0)); then
    rc=$status
    echo "launch/local.sh: process $pid exited with $status; stopping the others" >&2
    forward KILL
  fi
done
exit $rc
