"""Static batch sizes for jitted inference: a few compilations in all, none per call."""

from __future__ import annotations

import numpy as np

DEFAULT_BATCH = 16
# Static batch sizes a call is padded to (the smallest that fits, up to the
# model's batch_size): a few compilations in all, none per call.
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


def batch_buckets(batch_size: int) -> tuple[int, ...]:
  """The padded batch sizes used under ``batch_size``: powers of two below it, then it."""
  return tuple(b for b in BATCH_BUCKETS if b < batch_size) + (batch_size,)


def bucket_chunks(n: int, batch_size: int) -> list[tuple[int, int, int]]:
  """Splits ``n`` frames into jitted calls: [(start, stop, padded size)], full
  ``batch_size`` chunks, then the remainder padded to the smallest bucket that fits."""
  buckets = batch_buckets(batch_size)
  out = []
  for start in range(0, n, batch_size):
    stop = min(n, start + batch_size)
    out.append((start, stop, next(b for b in buckets if b >= stop - start)))
  return out


def pad_rows(array: np.ndarray, size: int) -> np.ndarray:
  """[N, ...] -> [size, ...]: zero rows appended (size >= N)."""
  if size == len(array):
    return array
  return np.concatenate([array, np.zeros((size - len(array),) + array.shape[1:], array.dtype)])


def run_bucketed(fn, inputs: np.ndarray, batch_size: int) -> list[np.ndarray]:
  """``fn`` over ``inputs`` [N, ...] in bucketed, zero-padded batches; the N unpadded rows, in order."""
  return [np.asarray(fn(pad_rows(inputs[start:stop], size)))[: stop - start]
          for start, stop, size in bucket_chunks(len(inputs), batch_size)]
