"""Memory admission of a model's size: do its variables fit, before any is made?

The flags that size a model (`hidden_units`, `units_per_group`,
`num_chains`, DVAE++'s `channels` and `num_local_groups`) can ask for more
memory than any machine has: `--hidden_units=1e8` is 2^30 GiB of weights,
`--num_chains=2e9` 3,000 GiB of chain states. Building such a model fails
deep inside TensorFlow or NumPy, or, a little below the machine's memory,
gets the process killed as it initializes them. `check_fits` finds out
first, with one line naming the largest value of a size flag that fits.

The count is exact: the model is built in a throwaway `tf.Graph`, where a
variable is a shape and no memory, and its variables' bytes are summed
(`variable_bytes`). Looking for the largest value of a flag that fits, the
count is a quadratic in the flag fitted to such builds and checked against
more of them (`variable_bytes_in`), so the search needs no build of a model
near the machine's memory (a minute for an RBM of 8,192 + 8,192 units).
Training holds each trainable variable `TRAINING_COPIES` times (the
variable, its gradient and Adam's two slots) and the others (persistent
chains, batch-norm statistics) `INITIAL_COPIES` times while they are
initialized: `training_bytes`. Before that, the RBM's graph K_{n/2, n/2}
is counted from the units alone (`default_graph_couplings`): building it
enumerates its couplings (`EDGE_BYTES` each), so a `--units_per_group=1e8`
(10^16 couplings) is refused without building anything.
"""

import contextlib
import dataclasses
import math
import time

import numpy as np
import tensorflow as tf

from dvae_tf import graphs
from dvae_tf import priors
from dvae_tf.models import config as config_lib

# Copies of a trainable variable while training: itself, its gradient and
# Adam's first and second moments.
TRAINING_COPIES = 4
# Bytes a model's build takes per coupling of its graph before any variable
# exists (`graphs.Graph` enumerates and indexes the edges): measured 81 to 85
# on K_{n/2, n/2} by tests/test_memory.py, which checks this bounds it.
EDGE_BYTES = 96
# Seconds `check_fits` spends looking for the largest value that fits, for
# a model whose count is not `variable_bytes_in`'s quadratic.
HINT_SECONDS = 20.
# Copies of another variable (persistent chains, batch-norm statistics)
# while it is made: its random draw, the draw's comparison, the variable.
INITIAL_COPIES = 3
# The config fields that size a model, in the order a hint names them.
SIZE_FIELDS = ('hidden_units', 'units_per_group', 'num_chains', 'channels',
               'num_local_groups')


class ModelSizeError(ValueError):
  """A model's variables would need more memory than is free."""


def size_fields(config):
  """The `SIZE_FIELDS` of `config` set above 1, in that order."""
  return [f for f in SIZE_FIELDS if getattr(config, f, 0) > 1]


def _named(config):
  return ', '.join(f'{f}={getattr(config, f)}' for f in size_fields(config))


@contextlib.contextmanager
def out_of_memory_as_one_line(config):
  """TensorFlow's or NumPy's out-of-memory error while `config`'s model is
  made, past `check_fits`'s count (temporaries it does not see), as a
  `ModelSizeError` of one line."""
  try:
    yield
  except (tf.errors.ResourceExhaustedError, MemoryError) as e:
    reason = str(e).split(' on /job')[0].split('}} ')[-1]
    raise ModelSizeError(
        f'Making the model ({_named(config)}) ran out of memory '
        f'({reason[:160]}); lower the largest of these.') from None


def default_graph_couplings(config):
  """Couplings of the paper's RBM graph K_{n/2, n/2} over a feed-forward
  model's n units, at most (0 for other priors and graphs, whose size does
  not grow with the model's flags)."""
  structure = getattr(config, 'structure', None)
  if (structure is None or config.graph != graphs.DEFAULT_GRAPH or
      not priors.PRIORS[config.prior].uses_graph):
    return 0
  units = sum(structure.group_sizes)
  return graphs.couplings_at_most('bipartite', [units // 2,
                                                units - units // 2])


def variable_bytes(config, train_mean):
  """(trainable, other) bytes of the variables of the model `config`
  describes, from a build in a throwaway graph; (inf, inf) if that graph
  cannot be made (NumPy or TensorFlow cannot hold its structure); None for
  a model that cannot be built in a graph (DVAE++: its size flags are not
  checked here)."""
  try:
    with tf.Graph().as_default():
      model = config_lib.build_model(config, np.asarray(train_mean,
                                                        np.float32))
      model.build()
      trainable = {id(v) for v in model.trainable_variables}
      sizes = [(id(v) in trainable,
                v.shape.num_elements() * tf.as_dtype(v.dtype).size)
               for v in model.variables]
  except (MemoryError, OverflowError, tf.errors.ResourceExhaustedError):
    return math.inf, math.inf
  except (TypeError, ValueError, AttributeError):
    # A model whose construction computes with its constants eagerly
    # (DVAE++'s decoder offsets) cannot be built in a graph: not counted.
    return None
  return (sum(n for t, n in sizes if t), sum(n for t, n in sizes if not t))


def training_bytes(config, train_mean, free, count=None):
  """Bytes training holds for the variables of `config`'s model, or what
  building it takes if more (`EDGE_BYTES` per coupling of the default
  graph); inf, without building it, if that alone exceeds `free`.

  `count(config)` gives the (trainable, other) bytes of the variables
  (default: `variable_bytes`, a build in a throwaway graph)."""
  building = EDGE_BYTES * default_graph_couplings(config)
  if building > free:
    return math.inf
  counted = (count(config) if count is not None else
             variable_bytes(config, train_mean))
  if counted is None:
    return building
  trainable, other = counted
  return max(TRAINING_COPIES * trainable + INITIAL_COPIES * other, building)


# Multiples of the stride at which `variable_bytes_in` fits its quadratic,
# and those past them at which it checks it against builds.
_FIT_VALUES = (1, 2, 3)
_CHECK_VALUES = (4, 5, 8, 13)
# Strides tried: every value, or even values only (the paper's RBM over
# one group of units, K_{n/2, n/2}, needs an even n).
_STRIDES = (1, 2)


def variable_bytes_in(config, field, train_mean):
  """`variable_bytes` as a function of one size field, without a build per
  value: (stride, count), where `count(config)` is exact for values of the
  field that are multiples of `stride`, the values the model can be built
  with; None where a check fails.

  Every variable's shape is a product of at most two factors that grow with
  one size field (a dense layer h x h, the RBM's couplings n x n, the
  chains' states chains x units), so its bytes are a quadratic in the field.
  With v = s w (s the stride):

      b(w) = b(1) + (w - 1) D1 + (w - 1)(w - 2) / 2 D2,
      D1 = b(2) - b(1),  D2 = b(3) - 2 b(2) + b(1)

  (Newton's forward differences), fitted at w = 1, 2, 3 from builds, in
  integers, for the trainable and the other bytes, and checked against
  builds at w = 4, 5, 8 and 13. The stride is the first of 1 and 2 whose
  fitted values all build. A model whose count is not such a quadratic (a
  size that steps) fails the check and gets None: its values are counted
  by builds."""
  def built(value):
    return variable_bytes(dataclasses.replace(config, **{field: value}),
                          train_mean)

  def valid(counted):
    return counted is not None and math.inf not in counted

  for stride in _STRIDES:
    fitted = [built(stride * w) for w in _FIT_VALUES]
    if all(valid(c) for c in fitted):
      break
  else:
    return None

  def quadratic(value):
    w = value // stride
    return tuple(
        b1 + (w - 1) * (b2 - b1) + (w - 1) * (w - 2) // 2 * (b3 - 2 * b2 + b1)
        for b1, b2, b3 in zip(*fitted))

  for w in _CHECK_VALUES:
    if built(stride * w) != quadratic(stride * w):
      return None
  return stride, lambda c: quadratic(getattr(c, field))


def _fitting_value(config, field, train_mean, free, seconds):
  """A value of `field` below its value in `config` with which the model
  fits in `free` bytes, the largest one (0 if not even 1 fits): doubling,
  then bisection, over the multiples of `variable_bytes_in`'s stride, with
  the bytes of its quadratic. Where that does not hold, over every value,
  with a build per value tried, the quick ones first, for about `seconds`
  (then the largest found so far)."""
  deadline = time.monotonic() + seconds
  stride, count = variable_bytes_in(config, field, train_mean) or (1, None)
  if count is not None:
    deadline = math.inf  # Arithmetic: the search is quick to its end.

  def fits(w):
    return training_bytes(dataclasses.replace(config, **{field: stride * w}),
                          train_mean, free, count) <= free

  current = getattr(config, field) // stride
  low, high = 0, 1
  while high < current and fits(high):
    low, high = high, 2 * high
    if time.monotonic() > deadline:
      return stride * low
  high = min(high, current)
  if low == 0 and not fits(1):
    return 0
  low = max(low, 1)
  while high - low > 1 and time.monotonic() < deadline:
    middle = (low + high) // 2
    if fits(middle):
      low = middle
    else:
      high = middle
  return stride * low


def check_fits(config, train_mean, free, where):
  """Raises `ModelSizeError` unless `training_bytes` of `config`'s model
  fits in `free` bytes (`distribute.available_bytes`: on `where`).

  The message names the size fields set above 1 and, for the one whose
  lowering to 1 saves the most and alone makes the model fit, a value that
  does (`_fitting_value`).
  """
  needed = training_bytes(config, train_mean, free)
  if needed <= free:
    return
  fields = size_fields(config)

  def at_one(field):
    return training_bytes(dataclasses.replace(config, **{field: 1}),
                          train_mean, free)

  # The field whose lowering saves the most is named first.
  hint = 'make the model smaller'
  for field in sorted(fields, key=at_one):
    value = _fitting_value(config, field, train_mean, free, HINT_SECONDS)
    if value >= 1:
      hint = f'lower {field}: {field}={value} fits'
      break
  named = _named(config)
  available = f'the {free / 2**30:.1f} GiB free on {where}'
  if math.isinf(needed):
    couplings = default_graph_couplings(config)
    raise ModelSizeError(
        f'The model ({named}) has {couplings:.3g} couplings in its RBM graph, '
        f'which take {EDGE_BYTES * couplings / 2**30:.3g} GiB to build, more '
        f'than {available}; {hint}.')
  raise ModelSizeError(
      f'The model ({named}) needs {needed / 2**30:.3g} GiB for its '
      f'variables, their gradients, Adam\'s slots and initial values, more '
      f'than {available}; {hint}.')
