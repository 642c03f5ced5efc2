"""The fully connected networks of the feed-forward models (Sec. 7.1)."""

import keras
import tensorflow as tf


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
  """sum ||v||^2 / 2 over `variables`."""
  return tf.add_n([0.5 * tf.reduce_sum(tf.square(v)) for v in variables])
