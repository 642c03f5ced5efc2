"""Sums as products with a vector of ones.

XLA's CPU backend emits a reduction as a loop that adds one element at a
time, about 1.3 ns an element (the latency of a float addition), while its
matrix-vector product is vectorized. So a sum over the last axis is computed
here as values [..., n] times ones [n, 1]:

    sum_last(v)[i] = sum_j v[i, j] = (v 1)_i,
    total(v) = sum_i (v 1)_i   (v with its leading axes merged).

The order of the additions differs from `tf.reduce_sum`'s, so results agree
to float rounding. On one core, compiled by XLA: sum ||v||^2 over the six
kernels of the Table 2 networks (470,000 weights) took 0.087 ms against 0.60,
and the Bernoulli log-likelihood of importance sampling's rows 2.4 against
4.0 ns a pixel. Gradients are those of the sums (ones broadcast back).
"""

import tensorflow as tf


def sum_last(values):
  """sum over the last axis of `values` [..., n] (static n) -> [...]."""
  size = values.shape[-1]
  rows = tf.reshape(values, [-1, size])
  ones = tf.ones([size, 1], values.dtype)
  return tf.reshape(tf.matmul(rows, ones), tf.shape(values)[:-1])


def reduce_sum(values, axis):
  """`tf.reduce_sum(values, axis)`, as `sum_last` where `axis` is the last
  axis alone (an int or a one-element tuple) of a static, non-empty size."""
  rank = values.shape.rank
  last = rank - 1 if rank else -1
  if axis in (-1, (-1,), last, (last,)) and rank and values.shape[-1]:
    return sum_last(values)
  return tf.reduce_sum(values, axis=axis)


def total(values):
  """The sum of all elements of `values` (a scalar). Below rank 2, or with an
  unknown or empty last axis: `tf.reduce_sum`."""
  if (values.shape.rank or 0) < 2 or not values.shape[-1]:
    return tf.reduce_sum(values)
  return tf.reduce_sum(sum_last(values))
