"""Residual blocks with squeeze-and-excitation: the cells of DVAE++ (Sec. 6.2).

"We refer to a SE-ResNet block as a residual block" (Sec. 6.2): a residual
block (He et al. 2016) whose branch ends in a squeeze-and-excitation gate
(Hu et al. 2017). The paper's exact cell (Appendix G) is not available; this
one follows NVAE (Vahdat & Kautz 2020), the same first author's later model:

    y = skip(x) + SE(conv3x3(act(conv3x3(act(x))))),
    SE(u) = u * sigmoid(W2 relu(W1 mean_hw(u))),

with act = swish. There are no normalization layers; instead the second
convolution starts at zero, so every block starts as its skip path (as in
Fixup and VDVAE). That keeps a hierarchy of 16 latent groups stable from the
first step, and sampling sees the same network as training (no batch
statistics).

```python
block = ResidualBlock(64, resample='down')   # [N, 32, 32, C] -> [N, 16, 16, 64]
y = block(tf.zeros([8, 32, 32, 3]))
```
"""

import keras
import tensorflow as tf

RESAMPLINGS = (None, 'down', 'up')


class SqueezeExcitation(keras.layers.Layer):
  """Channel gating u * sigmoid(W2 relu(W1 mean_hw(u))), Hu et al. (2017).

  The bottleneck has max(channels // reduction, min_units) units.
  """

  def __init__(self, channels, reduction=16, min_units=4, **kwargs):
    super().__init__(**kwargs)
    self.channels = channels
    self.reduction = reduction
    self.min_units = min_units
    self.squeeze = keras.layers.Dense(max(channels // reduction, min_units),
                                      activation='relu')
    self.excite = keras.layers.Dense(channels, activation='sigmoid')

  def build(self, input_shape):
    del input_shape  # The dense layers build on their first call.

  def call(self, u):
    gate = self.excite(self.squeeze(tf.reduce_mean(u, axis=[1, 2])))
    return u * gate[:, None, None, :]

  def get_config(self):
    config = super().get_config()
    config.update(channels=self.channels, reduction=self.reduction,
                  min_units=self.min_units)
    return config


class ResidualBlock(keras.layers.Layer):
  """An SE-ResNet block, optionally halving or doubling the resolution.

  Branch: act -> conv3x3 (stride 2 when `resample='down'`, after a nearest
  2x upsampling when 'up') -> act -> conv3x3 (zero-initialized) -> SE. Skip:
  the identity, or a 1x1 convolution of the (resampled) input when the
  resolution or the number of channels changes.

  Args:
    channels: output channels.
    resample: None, 'down' (2x fewer rows and columns) or 'up' (2x more).
    activation: the nonlinearity.
    se_reduction: bottleneck reduction of the SE gate.
  """

  def __init__(self, channels, resample=None, activation='swish',
               se_reduction=16, **kwargs):
    super().__init__(**kwargs)
    if resample not in RESAMPLINGS:
      raise ValueError(f'ResidualBlock: resample={resample!r} is not one of '
                       f'{RESAMPLINGS}.')
    self.channels = channels
    self.resample = resample
    self.activation = activation
    self.se_reduction = se_reduction
    self.act = keras.layers.Activation(activation)
    self.conv1 = keras.layers.Conv2D(channels, 3, padding='same',
                                     strides=2 if resample == 'down' else 1)
    self.conv2 = keras.layers.Conv2D(channels, 3, padding='same',
                                     kernel_initializer='zeros')
    self.gate = SqueezeExcitation(channels, reduction=se_reduction)
    self.projection = None  # Created in build() once the input width is known.

  def build(self, input_shape):
    if self.resample or input_shape[-1] != self.channels:
      # A 1x1 convolution at stride 1 of the subsampled input (see `_skip`).
      self.projection = keras.layers.Conv2D(self.channels, 1)

  def _upsample(self, x):
    return tf.repeat(tf.repeat(x, 2, axis=1), 2, axis=2)

  def call(self, x):
    if self.resample == 'up':
      x = self._upsample(x)
    branch = self.gate(self.conv2(self.act(self.conv1(self.act(x)))))
    return self._skip(x) + branch

  def _skip(self, x):
    """The skip path: x, or a 1x1 convolution of x (subsampled when 'down').

    A 1x1 convolution at stride 2 reads the pixels (2i, 2j) only, so it equals
    x[:, ::2, ::2] followed by a 1x1 convolution at stride 1, which is how it
    is computed: TensorFlow 2.18-2.21's oneDNN backward pass of the strided
    1x1 convolution corrupts the heap on AVX-512 CPUs when it has at most 8
    input channels and a small batch (e.g. 8 -> 16 channels at 32x32, batch 3,
    the first projection of the `cpu` architecture); see BUILD.md.
    """
    if self.projection is None:
      return x
    if self.resample == 'down':
      x = x[:, ::2, ::2, :]
    return self.projection(x)

  def get_config(self):
    config = super().get_config()
    config.update(channels=self.channels, resample=self.resample,
                  activation=self.activation, se_reduction=self.se_reduction)
    return config


class Chain(keras.layers.Layer):
  """Layers applied in order, each built by its first call.

  Unlike `keras.Sequential`, which builds itself by a symbolic pass through
  every layer, a chain has nothing to trace: with the dozens of blocks of a
  16-group model that saves seconds each time a model is built.
  """

  def __init__(self, layers, **kwargs):
    super().__init__(**kwargs)
    self.chain = list(layers)

  def build(self, input_shape):
    del input_shape  # Each layer builds on its first call.

  def call(self, x):
    for layer in self.chain:
      x = layer(x)
    return x

  def get_config(self):
    config = super().get_config()
    config.update(layers=[keras.saving.serialize_keras_object(layer)
                          for layer in self.chain])
    return config

  @classmethod
  def from_config(cls, config):
    config = dict(config)
    layers = [keras.saving.deserialize_keras_object(layer)
              for layer in config.pop('layers')]
    return cls(layers, **config)


def residual_stack(channels, num_blocks, resample=None, se_reduction=16,
                   name=None):
  """A `Chain` of `num_blocks` residual blocks; the first one resamples."""
  return Chain([ResidualBlock(channels, resample=resample if i == 0 else None,
                              se_reduction=se_reduction)
                for i in range(num_blocks)], name=name)
