"""Bernoulli sampling and log-probabilities from logits, shared by the RBM,
the latents and the pixels.

A unit with logit l is 1 with probability sigmoid(l); drawn as [u < sigmoid(l)]
with u ~ U(0, 1) from a stateless sampler, so a seed reproduces the sample.
"""

import functools

import tensorflow as tf

from tensorflow_probability.python.internal import prefer_static as ps

from dvae_tf import philox
from dvae_tf import sums


def bernoulli_from_uniform(u, logits):
  """[u < sigmoid(logits)] in the dtype of `logits`: Bernoulli for u ~ U(0, 1)."""
  return tf.cast(u < tf.math.sigmoid(logits), logits.dtype)


def bernoulli_sample(logits, seed):
  """A {0, 1} sample (in the dtype of `logits`) of Bernoulli(sigmoid(logits))."""
  u = philox.uniform(ps.shape(logits), seed, logits.dtype)
  return bernoulli_from_uniform(u, logits)


def bernoulli_log_prob(logits, x, axis):
  """sum over `axis` of log Bernoulli(x; sigmoid(l)) = x l - softplus(l).

  softplus(l) = max(l, 0) + log(1 + exp(-|l|)), written as
  `tf.nn.sigmoid_cross_entropy_with_logits` writes it (with `where`, so the
  gradient at l = 0 is x - 1/2), except that log(1 + t) replaces log1p(t):
  XLA vectorizes it, log1p it does not, and for t = exp(-|l|) < 1e-7, where
  1 + t rounds to 1, the difference is below 1.2e-7 a pixel. Compiled with
  XLA so that the elementwise ops fuse into one pass over the pixels, and
  summed over the last axis as a product with ones (`sums.reduce_sum`):
  for the decoders of Tables 1-2 it would otherwise cost as much as their
  largest matrix product (importance sampling evaluates it for every
  sample of every image). Each static signature (shapes, dtype, axis)
  has its own compiled function (`_fused_bernoulli_log_prob`): the
  multi-scale decoder scores three scales at several batch sizes, and one
  `tf.function` retraced for each would warn of retracing at every run's
  start; one traced with generalized shapes (`reduce_retracing`) costs
  twice the memory of the step (tests/test_memory.py).
  """
  axis = tuple(axis) if isinstance(axis, (list, tuple)) else axis
  signature = (tuple(logits.shape), tuple(x.shape), logits.dtype, axis)
  return _fused_bernoulli_log_prob(signature)(logits, x, axis)


@functools.lru_cache(maxsize=64)
def _fused_bernoulli_log_prob(signature):
  """The XLA-compiled x l - softplus(l) summed over `axis`, for one
  `signature` of `bernoulli_log_prob`."""
  del signature  # The cache key only.
  return tf.function(_FusedBernoulliLogProb(), jit_compile=True,
                     autograph=False)


class _FusedBernoulliLogProb:
  """`_bernoulli_log_prob` as an object of its own. TensorFlow counts the
  traces of a `tf.function` by its Python function's code object, which
  every closure of one `def` shares (so a function per signature, made by
  one `def`, still warns of retracing after five signatures), and by the
  object itself when it has no `__code__`: one instance per signature is
  one count per signature."""

  def __call__(self, logits, x, axis):
    return _bernoulli_log_prob(logits, x, axis)


def _bernoulli_log_prob(logits, x, axis):
  positive = logits >= 0.
  relu = tf.where(positive, logits, tf.zeros_like(logits))
  neg_abs = tf.where(positive, -logits, logits)
  return sums.reduce_sum(
      x * logits - relu - tf.math.log(1. + tf.exp(neg_abs)), axis)
