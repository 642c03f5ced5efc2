"""Interleaved timing, so that ratios between candidates share machine noise."""

import time

import numpy as np


def interleaved_seconds(fns, repeats=7, warmup=2, inner=10):
  """Median seconds per call of each function, timed in alternation.

  Every round times each candidate once (`inner` calls), so slow phases of a
  shared machine hit all candidates alike and their ratio stays meaningful.

  Args:
    fns: dict name -> zero-argument callable; its result is forced with
      `.numpy()` when it has one (so asynchronous work is counted).
    repeats: number of rounds.
    warmup: untimed calls of each candidate first (tracing, compilation).
    inner: calls per timing.

  Returns:
    dict name -> median seconds per call.
  """
  def run(fn):
    out = fn()
    for leaf in (out if isinstance(out, (tuple, list)) else [out]):
      if hasattr(leaf, 'numpy'):
        leaf.numpy()

  for fn in fns.values():
    for _ in range(warmup):
      run(fn)
  times = {name: [] for name in fns}
  for _ in range(repeats):
    for name, fn in fns.items():
      start = time.perf_counter()
      for _ in range(inner):
        run(fn)
      times[name].append((time.perf_counter() - start) / inner)
  return {name: float(np.median(t)) for name, t in times.items()}
