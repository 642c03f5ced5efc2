"""The fully connected networks of the feed-forward models (Sec. 7.1)."""

import keras
import tensorflow as tf

from dvae_tf import sums


def mlp(output_units, num_hidden, hidden_units=200, activation='tanh',
        batch_norm=False, output_bias=None, name=None):
  """A multilayer perceptron: `num_hidden` hidden layers, then a linear output.

  "Linear" structures have `num_hidden=0`; "nonlinear" ones two hidden layers
  of 200 tanh units (Sec. 7.1). With `batch_norm`, each hidden layer is
  Dense -> BatchNormalization(momentum 0.8, epsilon 1e-2) -> tanh, as in the
  released code for the RBM-prior experiments (Appendix F notes).

  Args:
    output_units: width of the output layer.
    num_hidden: number of hidden layers.
    hidden_units: width of each hidden layer.
    activation: hidden nonlinearity.
    batch_norm: insert batch normalization before each nonlinearity.
    output_bias: optional initial value of the output bias (a numpy array).
    name: layer name.

  Returns:
    A `keras.Sequential`.
  """
  layers = []
  for _ in range(num_hidden):
    layers.append(keras.layers.Dense(
        hidden_units, kernel_initializer='variance_scaling',
        use_bias=not batch_norm))
    if batch_norm:
      layers.append(keras.layers.BatchNormalization(momentum=0.8, epsilon=1e-2))
    layers.append(keras.layers.Activation(activation))
  bias_initializer = ('zeros' if output_bias is None else
                      keras.initializers.Constant(output_bias))
  layers.append(keras.layers.Dense(output_units,
                                   kernel_initializer='variance_scaling',
                                   bias_initializer=bias_initializer))
  return keras.Sequential(layers, name=name)


def linear_of_concat(kernel, bias, parts, num_samples):
  """concat(parts) W + b, where some parts hold one row per image and are
  shared by that image's k samples, without tiling them.

  The rows are those of k = `num_samples` samples per image, sample-major
  (as for the images tiled k times). A part is (tensor, shared): shared
  parts have N rows (one per image), the others k N. The product of a
  concatenation is the sum of the parts' products with the kernel's
  matching rows, [a, b] W = a W_a + b W_b, so each shared product is
  computed once per image and broadcast over the k samples.

  Args:
    kernel: [F_1 + ... + F_m, U] (a Dense kernel, or a 1x1 convolution's
      kernel[0, 0]).
    bias: [U] or None.
    parts: (tensor [rows, ..., F_i], shared) in the order of the
      concatenation; at least one not shared.
    num_samples: k (an int or a scalar tensor).

  Returns:
    [k N, ..., U], equal to concat([tile(p, k) if shared else p], -1) W + b
    up to float rounding.
  """
  start, own, shared = 0, [], []
  for part, is_shared in parts:
    width = part.shape[-1]
    term = tf.tensordot(part, kernel[start:start + width], axes=1)
    (shared if is_shared else own).append(term)
    start += width
  if bias is not None:
    shared.append(bias)
  h = tf.add_n(own)
  shape = tf.shape(h)
  h = tf.reshape(h, tf.concat([[num_samples, -1], shape[1:]], 0))
  for term in shared:  # Broadcast over the samples (and the bias's rows).
    h += term
  return tf.reshape(h, shape)


def decayed_variables(model):
  """The network variables weight decay applies to (Appendix F notes).

  The kernels of dense and convolution layers and the scales (gamma) of batch
  normalization, in the model's layer order; biases are not decayed. (A prior
  adds its own, `Prior.decayed_weights`: the RBM's couplings W.)
  """
  chosen = []
  for layer in model._flatten_layers(include_self=False):  # pylint: disable=protected-access
    if isinstance(layer, (keras.layers.Dense, keras.layers.Conv2D)):
      chosen.append(layer.kernel)
    elif isinstance(layer, keras.layers.BatchNormalization) and layer.scale:
      chosen.append(layer.gamma)
  return chosen


def squared_norm(variables):
  """sum ||v||^2 / 2 over `variables` (vectorized under XLA: `sums.total`)."""
  return tf.add_n([0.5 * sums.total(tf.square(v)) for v in variables])
