"""Threefry-2x32 uniforms: the random numbers of the Gibbs sweeps.

A training step of a Boltzmann prior draws one uniform for every unit of
every persistent chain in every sweep: 800,000 for the Table 2 model at 100
chains and 40 sweeps, 8 million at 1,000 chains. On a CPU core XLA's Philox
spends about 10 ns on each, as much as the sweeps themselves; Threefry-2x32
with its full 20 rounds (Salmon, Moraes, Dror and Shaw 2011, "Parallel
random numbers: as easy as 1, 2, 3"; the generator JAX draws with by default)
written as 32-bit integer operations, which XLA vectorizes, about half.

`uniform(shape, seed)` is counter-based: with key (k0, k1) the two 32-bit
words of the seed, element m of the draw (row-major) is

    u_m = floor(w_m / 2^(32 - d)) / 2^d,
    w_m = word (m mod 2) of Threefry-2x32-20((m div 2) mod 2^32,
                                             (m div 2) div 2^32; k0, k1),

d the dtype's significand bits (24 for float32, 32 for float64), so u is in
[0, 1 - 2^-d], exact in the dtype, and a draw of fewer leading rows is a
prefix of a larger one. Integer arithmetic is exact, so the numbers are the
same on every device, eagerly, in a graph and under XLA.
"""

import numpy as np
import tensorflow as tf

from tensorflow_probability.python.internal import prefer_static as ps
from tensorflow_probability.python.internal import samplers

ROUNDS = 20
# Rotations of Threefry-2x32 (Random123's R_32x2), one per round mod 8.
_ROTATIONS = (13, 15, 26, 6, 17, 29, 16, 24)
_PARITY = 0x1BD11BDA  # The key schedule's constant C240.


def threefry2x32(c0, c1, k0, k1):
  """Threefry-2x32-20 of counter words (c0, c1) under key (k0, k1): two
  uint32 tensors of the broadcast shape. Every 4 rounds inject subkey s:
  (k_s mod 3, k_(s+1) mod 3 + s), k_2 = k0 ^ k1 ^ C240."""
  u32 = lambda v: tf.constant(v, tf.uint32)
  bits = tf.bitwise
  keys = (k0, k1, bits.bitwise_xor(bits.bitwise_xor(k0, k1), u32(_PARITY)))
  x0, x1 = c0 + k0, c1 + k1
  for r in range(ROUNDS):
    rotation = _ROTATIONS[r % 8]
    x0 = x0 + x1
    x1 = bits.bitwise_or(bits.left_shift(x1, u32(rotation)),
                         bits.right_shift(x1, u32(32 - rotation)))
    x1 = bits.bitwise_xor(x1, x0)
    if r % 4 == 3:
      s = r // 4 + 1
      x0 = x0 + keys[s % 3]
      x1 = x1 + keys[(s + 1) % 3] + u32(s)
  return x0, x1


def significand_bits(dtype):
  """d of the module docstring: the bits of a uniform in `dtype`."""
  return min(32, np.finfo(tf.as_dtype(dtype).as_numpy_dtype).nmant + 1)


def counter_words(pairs):
  """The counter words (c0, c1) = (p mod 2^32, p div 2^32) of the int64 pair
  indices p = m div 2, uint32."""
  c0 = tf.cast(tf.bitwise.bitwise_and(pairs, 0xFFFFFFFF), tf.uint32)
  c1 = tf.cast(tf.bitwise.right_shift(pairs, tf.constant(32, tf.int64)),
               tf.uint32)
  return c0, c1


def uniform(shape, seed, dtype=tf.float32):
  """U[0, 1) of `shape` from a stateless seed (see the module docstring)."""
  return _uniform(tf.cast(shape, tf.int64), samplers.sanitize_seed(seed),
                  tf.as_dtype(dtype))


@tf.function(jit_compile=True, autograph=False)
def _uniform(shape, seed, dtype):
  size = tf.reduce_prod(shape)
  c0, c1 = counter_words(tf.range((size + 1) // 2, dtype=tf.int64))
  key = tf.bitcast(tf.cast(seed, tf.int32), tf.uint32)
  words = tf.reshape(tf.stack(threefry2x32(c0, c1, key[0], key[1]), -1),
                     [-1])[:size]
  d = significand_bits(dtype)
  compute = tf.float64 if d > 24 else tf.float32
  top = tf.bitwise.right_shift(words, tf.constant(32 - d, tf.uint32))
  u = tf.cast(top, compute) * tf.constant(2.**-d, compute)
  return tf.reshape(tf.cast(u, dtype), ps.cast(shape, tf.int32))
