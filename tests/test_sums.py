"""Sums as products with ones (`dvae_tf.sums`): against float64 numpy sums,
as a graph and under XLA, their gradients, and NaN and infinity carried
through (the check of the variables relies on it)."""

import numpy as np
import pytest
import tensorflow as tf

from dvae_tf import sums


@pytest.mark.parametrize('shape', [(7,), (5, 3), (4, 6, 784), (3, 3, 2, 5)])
@pytest.mark.parametrize('jit', [False, True])
def test_sums_agree_with_float64(rng, shape, jit):
  values = rng.normal(0., 3., shape).astype(np.float32)
  total = tf.function(sums.total, jit_compile=jit)(tf.constant(values))
  np.testing.assert_allclose(total, values.astype(np.float64).sum(),
                             rtol=1e-5, atol=1e-4)
  if len(shape) > 1:
    last = tf.function(sums.sum_last, jit_compile=jit)(tf.constant(values))
    assert last.shape == shape[:-1]
    np.testing.assert_allclose(last, values.astype(np.float64).sum(-1),
                               rtol=1e-5, atol=1e-4)


def test_sums_of_an_unknown_batch_and_their_gradient(rng):
  values = tf.constant(rng.normal(size=(6, 9)).astype(np.float32))
  last = tf.function(sums.sum_last, input_signature=[
      tf.TensorSpec([None, 9], tf.float32)])
  np.testing.assert_allclose(last(values), values.numpy().sum(-1),
                             rtol=1e-5, atol=1e-5)
  weights = rng.normal(size=(6,)).astype(np.float32)
  with tf.GradientTape() as tape:
    tape.watch(values)
    out = tf.reduce_sum(sums.sum_last(values) * weights) + sums.total(values)
  np.testing.assert_allclose(tape.gradient(out, values),
                             np.broadcast_to(weights[:, None] + 1., (6, 9)),
                             rtol=1e-6)


@pytest.mark.parametrize('bad', [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize('jit', [False, True])
def test_a_nonfinite_element_makes_a_nonfinite_sum(bad, jit):
  values = np.zeros((300, 200), np.float32)
  values[123, 45] = bad
  zeroed = tf.function(lambda v: sums.total(v * 0.), jit_compile=jit)
  assert np.isnan(zeroed(tf.constant(values)))
  assert zeroed(tf.constant(np.ones_like(values))) == 0.


@pytest.mark.parametrize('axis', [-1, 2, (2,), (-1,), 0, (0, 2), None, ()])
def test_reduce_sum_over_any_axis(rng, axis):
  values = rng.normal(size=(3, 4, 5)).astype(np.float32)
  np.testing.assert_allclose(
      sums.reduce_sum(tf.constant(values), axis),
      values.astype(np.float64).sum(axis=axis), rtol=1e-5, atol=1e-5)
