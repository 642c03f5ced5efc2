"""The pixel distributions of one decoder scale (Sec. 6.1).

Each scale of the decoder has a factorial distribution over its pixels: a
factorial Bernoulli for binary images, a factorial mixture of discretized
logistics (Salimans et al. 2017) for 8-bit colour images. A family turns a
head's output `params` [N, s, s, num_params(C)] into

- `log_prob(params, x)`: log p(x) of each pixel, summed over channels,
  [N, s, s];
- `sample(params, seed)`: pixels in the data's values, [N, s, s, C];
- `mean(params)`: the mean image scaled to [0, 1] (pixels / `max_value`),
  for display;
- `network_input(x)`: pixels as a finer scale's network sees them, about
  [-1, 1];
- `offset(mean_image)`: the constant [s, s, num_params] added to the head's
  output, so that a new decoder starts at the training set's mean image (the
  feed-forward decoder's output bias, Appendix F notes).
"""

import numpy as np
import tensorflow as tf

from dvae_tf import sampling
from dvae_tf.distributions import discretized_logistic_mixture


class BernoulliPixels:
  """p(x) = prod_c Bernoulli(x_c; sigmoid(l_c)) per pixel; params = logits l."""

  binary = True
  max_value = 1.

  def num_params(self, channels):
    return channels

  def offset(self, mean_image):
    mean = np.clip(np.asarray(mean_image, np.float32), 1e-3, 1. - 1e-3)
    return np.log(mean) - np.log1p(-mean)

  def log_prob(self, params, x):
    return sampling.bernoulli_log_prob(params, x, axis=-1)

  def sample(self, params, seed):
    return sampling.bernoulli_sample(params, seed)

  def mean(self, params):
    return tf.math.sigmoid(params)

  def network_input(self, x):
    return 2. * x - 1.


class DiscretizedLogisticPixels:
  """K discretized logistics per pixel over 0..255 (Salimans et al. 2017).

  params = [K mixture logits | K*C locations | K*C log-scales] with location
  mu = 127.5 (1 + m) for the output m and scale s = 127.5 exp(max(t, -7))
  for the output t: the parameterization of PixelCNN++ on [-1, 1], in pixel
  units (the smallest scale is 0.12 levels). The offset starts every
  component at the mean image with a scale of 16 levels.
  """

  binary = False
  max_value = 255.

  def __init__(self, num_mixtures=10):
    if num_mixtures < 1:
      raise ValueError(f'num_mixtures must be a positive integer; got '
                       f'{num_mixtures}.')
    self.num_mixtures = num_mixtures

  def num_params(self, channels):
    return self.num_mixtures * (1 + 2 * channels)

  def offset(self, mean_image):
    mean = np.asarray(mean_image, np.float32)
    shape = mean.shape[:-1] + (self.num_mixtures,)
    loc = np.broadcast_to(2. * mean[..., None, :] - 1., shape + mean.shape[-1:])
    log_scale = np.full(loc.shape, np.log(16. / 127.5), np.float32)
    return np.concatenate([np.zeros(shape, np.float32),
                           loc.reshape(mean.shape[:-1] + (-1,)),
                           log_scale.reshape(mean.shape[:-1] + (-1,))], -1)

  def _split(self, params):
    k = self.num_mixtures
    channels = (params.shape[-1] // k - 1) // 2
    logits, loc, log_scale = tf.split(params, [k, k * channels, k * channels],
                                      axis=-1)
    shape = tf.concat([tf.shape(params)[:-1], [k, channels]], 0)
    loc = 127.5 * (1. + tf.reshape(loc, shape))
    scale = 127.5 * tf.exp(tf.maximum(tf.reshape(log_scale, shape), -7.))
    return logits, loc, scale

  def distribution(self, params):
    """The `discretized_logistic_mixture` of every pixel: batch [N, s, s]."""
    return discretized_logistic_mixture(*self._split(params))

  def log_prob(self, params, x):
    return self.distribution(params).log_prob(x)

  def sample(self, params, seed):
    return self.distribution(params).sample(seed=seed)

  def mean(self, params):
    logits, loc, _ = self._split(params)
    weights = tf.math.softmax(logits, axis=-1)[..., None]
    return tf.reduce_sum(weights * tf.clip_by_value(loc, 0., 255.), -2) / 255.

  def network_input(self, x):
    return x / 127.5 - 1.


# Registry: name -> builder(num_mixtures) of a pixel likelihood family.
LIKELIHOODS = {
    'bernoulli': lambda num_mixtures: BernoulliPixels(),
    'logistic_mixture': DiscretizedLogisticPixels,
}


def get_pixel_likelihood(name, num_mixtures=10):
  """The family registered as `name` in `LIKELIHOODS`."""
  if name not in LIKELIHOODS:
    raise ValueError(f'likelihood={name!r} is not one of '
                     f'{sorted(LIKELIHOODS)}.')
  return LIKELIHOODS[name](num_mixtures)
