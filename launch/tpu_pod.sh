#!/bin/bash
# Data-parallel training on a Cloud TPU pod slice: the same command on every host.
#
#   gcloud compute tpus tpu-vm ssh NAME --worker=all --command \
#     "cd flowpose_jax && bash launch/tpu_pod.sh configs/bbc_pose_spatial.py /mnt/shared/workdirs/spatial"
#
# jax.distributed.initialize() discovers the pod's hosts by itself on TPU VMs.
set -euo pipefail
CONFIG=${1:?config file}
WORKDIR=${2:?workdir on a filesystem every host mounts}
shift 2
python -m flowpose_jax.cli train --distributed --config "$CONFIG" --workdir "$WORKDIR" "$@"
