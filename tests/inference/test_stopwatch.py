"""Stage seconds: each ``stage`` block adds its own wall time; jobs on threads add theirs."""

import concurrent.futures
import time

from flowpose_jax.inference.stopwatch import Stopwatch


def test_stages_add_their_own_seconds_and_start_at_zero():
  timings = {"other_s": 1.0}
  watch = Stopwatch(timings, ("a_s", "b_s"))
  assert timings == {"other_s": 1.0, "a_s": 0.0, "b_s": 0.0}
  with watch.stage("a_s"):
    time.sleep(0.05)
  with watch.stage("a_s"):
    time.sleep(0.05)
  assert 0.1 <= timings["a_s"] < 0.3 and timings["b_s"] == 0.0
  with concurrent.futures.ThreadPoolExecutor(4) as pool:
    assert list(pool.map(lambda i: watch.timed("b_s", time.sleep, 0.05) or i, range(8))) == list(range(8))
  assert timings["b_s"] >= 8 * 0.05  # summed over the jobs, more than the wall time they took
