"""Bernoulli sampling from logits, shared by the RBM, the latents and pixels.

A unit with logit l is 1 with probability sigmoid(l); drawn as [u < sigmoid(l)]
with u ~ U(0, 1) from a stateless sampler, so a seed reproduces the sample.
"""

import tensorflow as tf

from tensorflow_probability.python.internal import prefer_static as ps

from dvae_tf import philox


def bernoulli_from_uniform(u, logits):
  """[u < sigmoid(logits)] in the dtype of `logits`: Bernoulli for u ~ U(0, 1)."""
  return tf.cast(u < tf.math.sigmoid(logits), logits.dtype)


def bernoulli_sample(logits, seed):
  """A {0, 1} sample (in the dtype of `logits`) of Bernoulli(sigmoid(logits))."""
  u = philox.uniform(ps.shape(logits), seed, logits.dtype)
  return bernoulli_from_uniform(u, logits)
