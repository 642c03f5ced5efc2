"""The fused Adam against Adam's update written out in NumPy and Keras' own."""

import keras
import numpy as np
import tensorflow as tf

from dvae_tf import optimizer as optimizer_lib


def test_fused_adam_matches_the_formula_and_keras(rng):
  lr, beta_1, beta_2, eps = 3e-3, 0.9, 0.999, 1e-3
  start = rng.normal(size=(4, 3)).astype(np.float32)
  grads = rng.normal(size=(5, 4, 3)).astype(np.float32)
  fused = keras.Variable(start)
  plain = keras.Variable(start)
  ours = optimizer_lib.Adam(lr, epsilon=eps)
  theirs = keras.optimizers.Adam(lr, epsilon=eps)
  theta, m, v = start.astype(np.float64), 0., 0.
  for t, g in enumerate(grads, start=1):
    ours.apply_gradients([(g, fused)])
    theirs.apply_gradients([(g, plain)])
    m = m + (1 - beta_1) * (g - m)
    v = v + (1 - beta_2) * (g * g - v)
    theta = theta - (lr * np.sqrt(1 - beta_2**t) / (1 - beta_1**t) * m /
                     (np.sqrt(v) + eps))
    np.testing.assert_allclose(fused.numpy(), theta, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fused.numpy(), plain.numpy(), rtol=1e-5,
                               atol=1e-6)
  assert int(ours.iterations) == len(grads)


def test_fused_adam_shares_scalars_across_variables_and_dtypes(rng):
  """One update of variables of two dtypes, eager and in a `tf.function`:
  each variable follows the formula at its own dtype (the scalars made once
  per update and dtype are the right ones for every variable)."""
  lr, beta_1, beta_2, eps = 1e-2, 0.9, 0.999, 1e-7
  starts = [rng.normal(size=(3,)).astype(np.float32),
            rng.normal(size=(2, 2)).astype(np.float64),
            rng.normal(size=(5,)).astype(np.float32)]
  grads = [[rng.normal(size=s.shape).astype(s.dtype) for s in starts]
           for _ in range(3)]
  for compiled in (False, True):
    variables = [tf.Variable(s) for s in starts]
    ours = optimizer_lib.Adam(lr, beta_1=beta_1, beta_2=beta_2, epsilon=eps)
    apply = lambda g: ours.apply_gradients(zip(g, variables))
    if compiled:
      apply = tf.function(apply)
    theta = [s.astype(np.float64) for s in starts]
    m, v = [0.] * 3, [0.] * 3
    for t, g in enumerate(grads, start=1):
      apply(g)
      for i in range(3):
        m[i] = m[i] + (1 - beta_1) * (g[i] - m[i])
        v[i] = v[i] + (1 - beta_2) * (g[i] * g[i] - v[i])
        theta[i] = theta[i] - (lr * np.sqrt(1 - beta_2**t) / (1 - beta_1**t) *
                               m[i] / (np.sqrt(v[i]) + eps))
        assert variables[i].dtype == starts[i].dtype
        # Keras keeps the learning rate in a float32 variable (2e-10 off).
        tol = 1e-9 if starts[i].dtype == np.float64 else 1e-5
        np.testing.assert_allclose(variables[i].numpy(), theta[i], rtol=tol,
                                   atol=tol)
    assert ours.__dict__['_update_scalars'] is None
