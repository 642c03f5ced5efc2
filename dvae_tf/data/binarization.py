"""Stochastic binarization of grey images, reproducible from a seed.

A grey level g in 0..255 becomes the pixel x ~ Bernoulli(g / 255), the
binarization of Salakhutdinov & Murray (2008) that dynamically binarized
MNIST redraws every epoch. The noise comes from a stateless sampler keyed by a
seed, so the same seed gives the same binary images on every call and in
every process; `pipeline.py` derives a fresh key every epoch for the training
split and a fixed one otherwise.
"""

import tensorflow as tf


def binarize(probs, seed, dtype=tf.float32):
  """Draws x ~ Bernoulli(probs) pixelwise.

  Args:
    probs: float tensor of pixel probabilities in [0, 1], any shape.
    seed: int tensor [2], the key of a stateless sampler.
    dtype: the result's dtype.

  Returns:
    Tensor of the shape of `probs` and type `dtype`, values in {0, 1}.
  """
  noise = tf.random.stateless_uniform(tf.shape(probs), seed, dtype=probs.dtype)
  return tf.cast(noise < probs, dtype)
