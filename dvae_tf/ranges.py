"""The integer ranges of seeds and counts, checked where a user gives them.

Seeds become int32 stateless seeds (`tf.random.experimental.stateless_*`)
and counts int32 tensor sizes, so a value past int32 would wrap silently
(`--seed=4294967296` would mean `--seed=0`). The binaries, `training`,
`evaluation_report`, `export` and the exported signatures accept seeds in
[0, `MAX_INT32`] and counts in [minimum, `MAX_INT32`]; a value outside
raises `ValueError` naming the argument, the range and the value.
"""

import numbers

MAX_INT32 = 2**31 - 1
MAX_INT64 = 2**63 - 1
_AT_LEAST = {0: 'must be >= 0', 1: 'must be a positive integer'}


def _is_int(value):
  return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_count(name, value, minimum=1, maximum=MAX_INT32):
  """Raises ValueError unless `value` is an integer in [minimum, maximum]."""
  if not (_is_int(value) and minimum <= value <= maximum):
    at_least = _AT_LEAST.get(minimum, f'must be at least {minimum}')
    raise ValueError(f'{name} {at_least} and at most {maximum}; got '
                     f'{value!r}.')


def check_seed(name, value):
  """Raises ValueError unless `value` is a seed in [0, MAX_INT32]."""
  if not (_is_int(value) and 0 <= value <= MAX_INT32):
    raise ValueError(f'{name} must be an integer in [0, {MAX_INT32}] '
                     f'(2**31 - 1); got {value!r}.')
