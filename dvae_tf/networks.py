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


def weight_decay_loss(model):
  """sum ||v||^2 / 2 over the kernels, BN gammas and RBM couplings of `model`.

  The weight decay of the released code (Appendix F notes): dense and
  convolution kernels, batch-norm scales and the RBM weights W; biases are
  not decayed.
  """
  return tf.add_n([0.5 * tf.reduce_sum(tf.square(v))
                   for v in model.trainable_variables
                   if v.name in ('kernel', 'gamma', 'weights')])
