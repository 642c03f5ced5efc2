"""The host CPU: its model and the vector instructions that set which of
two ways to compute a step is faster (`/proc/cpuinfo`, on Linux)."""

import functools
import platform

CPUINFO = '/proc/cpuinfo'
# The instructions worth naming, widest first.
VECTOR_FLAGS = ('avx512f', 'avx512_bf16', 'amx_tile', 'avx2', 'fma')


def fields(cpuinfo=CPUINFO):
  """The first processor's `key: value` fields, or {} where there are none."""
  try:
    with open(cpuinfo) as f:
      lines = f.read().splitlines()
  except OSError:
    return {}
  found = {}
  for line in lines:
    key, _, value = line.partition(':')
    found.setdefault(key.strip(), value.strip())
  return found


def _flags(found):
  """The instruction-set flags among `fields`' (a set, empty where none)."""
  return set(found.get('flags', '').split())


def describe(cpuinfo=CPUINFO):
  """The model name and its `VECTOR_FLAGS`, e.g. 'AMD EPYC (avx2, fma)': the
  same step can run at half the rate on another model, so a benchmark
  report names it."""
  found = fields(cpuinfo)
  vector = [f for f in VECTOR_FLAGS if f in _flags(found)]
  name = found.get('model name') or platform.processor() or platform.machine()
  return f'{name} ({", ".join(vector)})' if vector else name


@functools.lru_cache(maxsize=None)
def has_avx512(cpuinfo=CPUINFO):
  """Whether the CPU has AVX-512 (False where that cannot be read)."""
  return 'avx512f' in _flags(fields(cpuinfo))
