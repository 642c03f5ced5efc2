"""The fused Adam against Adam's update written out in NumPy and Keras' own."""

import keras
import numpy as np

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
