"""Memory admission of the training step: does one step fit, before it runs?

A step's memory grows with its rows, the per-replica batch times
`num_iw_train` (`DiscreteVAE.elbo` tiles each image k times), so a large
`--num_iw_train` could take the machine's memory, or overflow TensorFlow's
int32 tensor sizes, in the middle of the first step. Two checks stop it
first, each with one line:

- rows times pixels must be a tensor size (`ranges.MAX_INT32`), which
  `TrainConfig` checks before anything is built;
- `check_step_fits`: the step traced for the run's real shapes, and the bytes
  of every floating-point tensor its graph computes (forward pass, gradient,
  update, nested functions and loop bodies once each: `graph_bytes`), as if
  all were alive at once, must fit in the memory free on the device
  (`available_bytes`). That sum bounds the step's peak from above;
  tests/test_memory.py measures the peak of a small run (the process's
  maximum resident size) and checks the estimate lies above it, and within
  `MAX_OVERESTIMATE` of it. The trace is the one the first step runs.
"""

import tensorflow as tf

from dvae_tf.distribute import available_bytes

# How far above a measured peak `graph_bytes` may lie (tests/test_memory.py).
MAX_OVERESTIMATE = 4.


# Ops whose output is a tensor counted elsewhere: a function's inputs, and
# views that share their input's buffer.
_NOT_NEW = frozenset({'Placeholder', 'Identity', 'IdentityN', 'Reshape',
                      'Squeeze', 'ExpandDims', 'StopGradient', 'Snapshot',
                      'EnsureShape', 'ReadVariableOp'})


def graph_bytes(graph):
  """Bytes of every floating-point tensor `graph` computes, the bodies of its
  function calls, loops and conditionals counted once each (and their
  results there, not again as the call's outputs)."""
  library = graph
  total, seen, pending = 0, set(), [graph]
  while pending:
    g = pending.pop()
    for op in g.get_operations():
      names = [name for value in op.node_def.attr.values() for name in (
          [value.func.name] if value.HasField('func') else
          [f.name for f in value.list.func])]
      if not names and op.type not in _NOT_NEW:
        total += sum(t.shape.num_elements() * t.dtype.size
                     for t in op.outputs
                     if t.dtype.is_floating and t.shape.is_fully_defined())
      for name in set(names) - seen:
        seen.add(name)
        function = library._get_function(name)  # pylint: disable=protected-access
        if function is not None:
          pending.append(function.graph)
  return total


class StepMemoryError(ValueError):
  """One training step would need more memory than is free."""


def largest_fitting(bytes_at, k, needed, free):
  """The largest k' < k with bytes_at(k') <= free (`needed` = bytes_at(k)),
  or 0 if not even k' = 1 fits.

  A step's bytes are a + b k' (a: the weights, their gradient and Adam's
  slots, and the per-image tensors; b: the tensors of the batch * k' rows),
  so a second trace gives a and b; the answer is then checked with a trace
  of its own (and lowered until one fits), since a branch taken only at
  some k' would make the line an approximation.
  """
  j = 2 if k > 2 else 1
  at_j = bytes_at(j)
  per_sample = max((needed - at_j) / (k - j), 1.)
  most = min(k - 1, int((free - (at_j - j * per_sample)) // per_sample))
  while most >= 1 and bytes_at(most) > free:
    most -= max(1, most // 16)
  return max(most, 0)


def check_step_fits(train_step, iterator, cfg, strategy, step_at=None):
  """Traces `train_step` for `iterator`'s batches and raises
  `StepMemoryError` if `graph_bytes` of the trace exceeds `available_bytes`.

  Args:
    train_step: the `tf.function` of `step.make_train_step`.
    iterator: the distributed iterator it is called with.
    cfg: the run's `TrainConfig`.
    strategy: the run's strategy.
    step_at: k -> the same step with `num_iw_train` = k; with it the
      error's hint is the largest k that fits (`largest_fitting`), without
      it k scaled by free / needed, which a step's fixed part overstates.
  """
  def bytes_at(step):
    return graph_bytes(step.get_concrete_function(
        iterator, tf.constant(0.), tf.constant(1)).graph)

  needed = bytes_at(train_step)
  free, where = available_bytes(strategy)
  if needed <= free:
    return
  k = cfg.num_iw_train
  if k == 1:
    most = 0
  elif step_at is None:
    most = int(free // (needed / k))
  else:
    most = largest_fitting(lambda j: bytes_at(step_at(j)), k, needed, free)
  hint = (f'use at most num_iw_train={most}' if most >= 1 else
          'lower batch_size')
  raise StepMemoryError(
      f'One training step with num_iw_train={cfg.num_iw_train} and '
      f'batch_size={cfg.batch_size} needs up to {needed / 2**30:.1f} GiB, '
      f'more than the {free / 2**30:.1f} GiB free on {where}; {hint}.')
