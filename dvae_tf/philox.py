"""Stateless draws by the Philox generator, always compiled by XLA.

TensorFlow's kernels and XLA do not draw the same numbers from the same
stateless seed: 'auto_select' means Philox in one and another generator in
the other, and even with Philox named, XLA derives the generator's key and
counter from a seed computed at run time differently. Every draw inside a
training step (the smoothings, the Bernoulli and Normal latents, and the
seeds of the Gibbs sweeps, whose uniforms `dvae_tf.threefry` draws) is
therefore its own small XLA computation, which a step compiled by XLA
(`TrainConfig.jit_compile`) inlines: the graph step and the XLA step draw
exactly the same numbers from the same seed.
"""

import tensorflow as tf

from tensorflow_probability.python.internal import samplers

ALGORITHM = 'philox'


def uniform(shape, seed, dtype=tf.float32, minval=0., maxval=1.):
  """U(minval, maxval) of `shape` from a stateless seed (sanitized as TFP's
  `samplers.uniform` does)."""
  return _uniform(shape, samplers.sanitize_seed(seed), dtype, minval, maxval)


def normal(shape, seed, dtype=tf.float32):
  """N(0, 1) of `shape` from a stateless seed."""
  return _normal(shape, samplers.sanitize_seed(seed), dtype)


@tf.function(jit_compile=True, autograph=False)
def _uniform(shape, seed, dtype, minval, maxval):
  return tf.random.stateless_uniform(shape, seed=seed, minval=minval,
                                     maxval=maxval, dtype=dtype,
                                     alg=ALGORITHM)


@tf.function(jit_compile=True, autograph=False)
def _normal(shape, seed, dtype):
  return tf.random.stateless_normal(shape, seed=seed, dtype=dtype,
                                    alg=ALGORITHM)


def fold_in(seed, data):
  """The seed of `seed` and the integer `data` (a step, a replica, a batch
  index): `tf.random.experimental.stateless_fold_in` by Philox."""
  seed = samplers.sanitize_seed(seed)
  return _fold_in(seed, tf.cast(data, seed.dtype))


def split(seed, n=2):
  """`n` independent seeds from one (as TFP's `samplers.split_seed`), a
  list of [2] int32 tensors."""
  return tf.unstack(_split(samplers.sanitize_seed(seed), n))


@tf.function(jit_compile=True, autograph=False)
def _fold_in(seed, data):
  return tf.random.experimental.stateless_fold_in(seed, data, alg=ALGORITHM)


@tf.function(jit_compile=True, autograph=False)
def _split(seed, n):
  return tf.random.stateless_uniform([n, 2], seed=seed, minval=None,
                                     maxval=None, dtype=tf.int32,
                                     alg=ALGORITHM)
