#!/bin/bash
# Data-parallel training on a Cloud TPU pod slice: the same command on every host.
#
#   gcloud compute tpus tpu-vm ssh NAME --worker=all --command \
#     "cd flowpose_jax && bash launch/tpu_pod.sh configs/bbc_pose_spatial.py /mnt/shared/workdirs/spatial"
#
# jax.distributed.initialize() discovers the pod's hosts by itself on TPU VMs. The
# workdir is shared by every host: a gs:// path (orbax and etils.epath write there)
# or a mounted filesystem. See launch/README.md.
set -euo pipefail
CONFIG=${1:?config file}
WORKDIR=${2:?workdir every host reaches: gs://bucket/path or a shared mount}
shift 2
python -m flowpose_jax.cli train --distributed --config "$CONFIG" --workdir "$WORKDIR" "$@"
