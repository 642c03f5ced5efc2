"""The conditional (multi-scale) decoder p(x | zeta, h) of Sec. 6.1-6.2.

    p(x | zeta, h) = p(x_0 | zeta, h) prod_{i>0} p(x_i | zeta, h, x_{i-1}),

over the scales x_0 (4x4) .. x_n (full size) of an `ImagePyramid`; x_{i-1}
determines x_<i, so this is the paper's p(x_i | zeta, h, x_<i). Each factor
is factorial over the pixels it scores (a `pixel_likelihoods` family) with
parameters from a head: 1x1 convolution of [decoder features at that scale,
the nearest-upsampled x_{i-1}], a residual block, a 1x1 convolution to the
family's parameters, plus a constant offset at the training mean. "In the
data space, a distribution on the smallest scale x0 is formed using a residual
network. Given samples at this scale, the distribution at the next scale is
formed using another upsampling residual network" (Sec. 6.2). With one scale
it is the unconditional decoder (factorial p(x | zeta, h), Table 3).
"""

import keras
import numpy as np
import tensorflow as tf

from dvae_tf.networks import mlp
from dvae_tf.networks import se_resnet
from dvae_tf import philox


def _upsample(x):
  return tf.repeat(tf.repeat(x, 2, axis=1), 2, axis=2)


class MultiScaleDecoder(keras.layers.Layer):
  """Heads that turn decoder features into p(x | zeta, h), one per scale.

  `features` arguments are dicts {side: [N, side, side, F]} of the decoder's
  feature maps; a scale coarser than every map given is average-pooled from
  the coarsest one.

  ```python
  decoder = MultiScaleDecoder(pyramid, BernoulliPixels(), channels=32,
                              mean_image=train_mean)
  log_px = decoder.log_prob({8: f8, 16: f16, 32: f32}, x)        # [N]
  ```
  """

  def __init__(self, pyramid, pixels, channels, mean_image, se_reduction=16,
               **kwargs):
    """Args:
      pyramid: an `ImagePyramid`.
      pixels: a family of `pixel_likelihoods`.
      channels: width of each head.
      mean_image: [H, W, C] training mean in [0, 1].
      se_reduction: of the heads' residual blocks.
      **kwargs: for `keras.layers.Layer`.
    """
    super().__init__(**kwargs)
    if pixels.binary != pyramid.binary:
      raise ValueError('MultiScaleDecoder: the pyramid and the pixel family '
                       'disagree on binary images.')
    self.pyramid = pyramid
    self.pixels = pixels
    num_params = pixels.num_params(pyramid.image_shape[-1])
    self.heads = [se_resnet.Chain([
        keras.layers.Conv2D(channels, 1),
        se_resnet.ResidualBlock(channels, se_reduction=se_reduction),
        keras.layers.Activation('swish'),
        # Small random weights: the mixture components must start different.
        keras.layers.Conv2D(num_params, 1, kernel_initializer=(
            keras.initializers.VarianceScaling(1e-2)))], name=f'head_{size}')
        for size in pyramid.sizes]
    mean = pyramid.pad(np.asarray(mean_image, np.float32)[None])
    offsets = [mean]
    for _ in pyramid.sizes[:-1]:
      offsets.insert(0, tf.nn.avg_pool2d(offsets[0], 2, 2, 'VALID'))
    self._offsets = [tf.constant(pixels.offset(o[0].numpy())) for o in offsets]
    self._masks = [tf.constant(m[None]) for m in pyramid.masks]
    self._known = [tf.constant(self._known_mask(size))
                   for size in pyramid.sizes]

  def _known_mask(self, size):
    """1 at the pixels of scale `size` that the coarser scale fixes."""
    known = np.zeros([1, size, size, 1], np.float32)
    if size != self.pyramid.sizes[0] and (
        self.pyramid.downsampling == 'subsample'):
      known[:, ::2, ::2] = 1.
    return known

  def _features(self, features, size):
    if size in features:
      return features[size]
    coarsest = min(features)
    if coarsest < size:
      raise ValueError(f'MultiScaleDecoder: no features at {size}x{size} '
                       f'(have {sorted(features)}).')
    f = features[coarsest]
    while f.shape[1] > size:
      f = tf.nn.avg_pool2d(f, 2, 2, 'VALID')
    return f

  def params(self, i, features, coarser, num_samples=1):
    """Parameters [k N, s, s, P] of p(x_i | zeta, h, x_{i-1} = `coarser`).

    `features` hold k = `num_samples` samples per image of `coarser`
    [N, ...], sample-major. The head's first layer is a 1x1 convolution of
    [f, c] (f the features, c the upsampled coarser scale), linear, so for
    k > 1 it is computed as f W_f + c W_c + b with c W_c once per image and
    broadcast over the k samples: x is never tiled.
    """
    inputs = self._features(features, self.pyramid.sizes[i])
    head = self.heads[i]
    if i == 0:
      return head(inputs) + self._offsets[i]
    conditioning = self.pixels.network_input(_upsample(coarser))
    first = head.chain[0]
    one = isinstance(num_samples, int) and num_samples == 1
    if one or not first.built:
      if not one:
        conditioning = tf.tile(conditioning, [num_samples, 1, 1, 1])
      return head(tf.concat([inputs, conditioning], axis=-1)) + (
          self._offsets[i])
    h = mlp.linear_of_concat(  # A 1x1 convolution's kernel: [1, 1, F + C, ch].
        first.kernel[0, 0], first.bias if first.use_bias else None,
        [(inputs, False), (conditioning, True)], num_samples)
    for layer in head.chain[1:]:
      h = layer(h)
    return h + self._offsets[i]

  def log_prob(self, features, x, num_samples=1):
    """log p(x | zeta, h) [k N] of images x [N, H, W, C] (Sec. 6.1).

    `features` hold k = `num_samples` samples per image, sample-major (as
    for x tiled k times). x is not tiled: its pyramid is built once per
    image, each scale is scored against the k samples' parameters by
    broadcasting, and the coarser scale that conditions the next one
    enters the heads' first layers once per image (`params`).
    """
    levels = self.pyramid.scales(x)
    total = 0.
    for i, level in enumerate(levels):
      params = self.params(i, features, levels[i - 1] if i else None,
                           num_samples)
      params = tf.reshape(params, tf.concat(
          [[num_samples, -1], tf.shape(params)[1:]], 0))
      total += tf.reduce_sum(
          self._masks[i] * self.pixels.log_prob(params, level[tf.newaxis]),
          axis=[2, 3])
    return tf.reshape(total, [-1])

  def _complete(self, i, scored, coarser):
    """Scale i from its scored pixels: fixed pixels from x_{i-1}, padding 0."""
    if i == 0 or self.pyramid.downsampling != 'subsample':
      return self._masks[i][..., None] * scored
    return (self._masks[i][..., None] * scored +
            self._known[i] * _upsample(coarser))

  def _finest_mean(self, features, coarser):
    """The mean of the last factor given x_{n-1}, in [0, 1], cropped."""
    i = len(self.pyramid.sizes) - 1
    mean = self.pixels.mean(self.params(i, features, coarser))
    if coarser is not None:
      coarser = coarser / self.pixels.max_value
    return self.pyramid.crop(self._complete(i, mean, coarser))

  def sample(self, features, seed):
    """Samples x_0 .. x_{n-1}, then the mean of x_n: [N, H, W, C] in [0, 1]."""
    seeds = philox.split(seed, n=len(self.pyramid.sizes))
    coarser = None
    for i in range(len(self.pyramid.sizes) - 1):
      scored = self.pixels.sample(self.params(i, features, coarser), seeds[i])
      coarser = self._complete(i, scored, coarser)
    return self._finest_mean(features, coarser)

  def reconstruct(self, features, x):
    """The mean of x_n given the coarser scales of x: [N, H, W, C] in [0, 1]."""
    levels = self.pyramid.scales(x)
    return self._finest_mean(features, levels[-2] if len(levels) > 1 else None)
