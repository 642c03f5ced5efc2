"""The feed-forward discrete VAE of Secs. 4, 5 and 7.1-7.2."""

import keras
import numpy as np
import tensorflow as tf

from dvae_tf.networks import mlp as networks
from dvae_tf.models import base
from dvae_tf import sampling
from dvae_tf import philox


@keras.saving.register_keras_serializable(package='dvae_tf')
class FeedForwardDVAE(base.DiscreteVAE):
  """A discrete VAE with a hierarchical posterior and a directed or RBM prior.

  Posterior (Fig. 2(d)): groups i = 1..G, each factorial Bernoulli
  q(z_i | x, zeta_<i) with logits from a network of [x - mean, zeta_<i],
  relaxed by the smoothing r(zeta|z) of the latent type at inverse
  temperature beta. Prior: any `priors.Prior` (Sec. 4's factorial, Sec. 5's
  RBM). Decoder: p(x | zeta) factorial Bernoulli over pixels, from one
  network of all zeta, with its output bias at the logit of the training-set
  mean pixel (clipped to [0.001, 0.999]). There are no local latents: every
  group is global.

  Training maximizes `elbo`; evaluation uses `log_importance_weights` in the
  binary limit (beta -> infinity: zeta = z ~ Bernoulli), as in Burda et al.

  ```python
  model = ModelConfig(struct='2-layer-nonlin', prior='rbm').build(mean)
  terms = model.elbo(x, beta=10., seed=(0, 1), training=True)
  nll = -evaluation.importance_weighted_bound(model, x, num_samples=4000)
  ```
  """

  def __init__(self, structure, prior, global_latent, train_mean, name=None,
               **kwargs):
    """Builds the networks.

    Args:
      structure: a `models.Structure` (groups, units, depth of networks).
      prior: a `priors.Prior` built for the same groups.
      global_latent: the `latents` type of the groups (`SmoothedBinary`).
      train_mean: [H, W, C] mean training pixel in [0, 1].
      name: model name.
      **kwargs: passed to `keras.Model`.
    """
    super().__init__(prior, global_latent, train_mean,
                     name=name or 'feed_forward_dvae', **kwargs)
    self.structure = structure
    train_mean = np.asarray(train_mean, np.float32)
    self.num_pixels = int(np.prod(self.image_shape))
    self._train_mean = tf.constant(train_mean.reshape(-1))
    net = dict(num_hidden=structure.num_hidden,
               hidden_units=structure.hidden_units,
               activation=structure.activation,
               batch_norm=structure.batch_norm)
    self.global_nets = [networks.mlp(units, name=f'encoder_{i + 1}', **net)
                        for i, units in enumerate(self.group_sizes)]
    mean = np.clip(train_mean.reshape(-1), 1e-3, 1. - 1e-3)
    self.decoder_net = networks.mlp(
        self.num_pixels, output_bias=np.log(mean) - np.log1p(-mean),
        name='decoder', **net)

  # The decoder.

  def decode_logits(self, zetas, training=False):
    """Pixel logits of p(x | zeta), [N, H, W, C]."""
    logits = self.decoder_net(self.global_latent.network_input(zetas),
                              training=training)
    return tf.reshape(logits, (-1,) + self.image_shape)

  def decoder_log_prob(self, x, zetas, num_samples=1, training=False):
    """log p(x | zeta) summed over pixels, [k N].

    zetas hold k = `num_samples` samples per image of x [N, H, W, C],
    sample-major (x itself is broadcast, not tiled).
    """
    logits = self.decode_logits(zetas, training=training)
    # Pixels on one axis: the fused sum runs twice as fast as over (H, W, C).
    logits = tf.reshape(logits, (num_samples, -1, self.num_pixels))
    x = tf.reshape(x, (1, -1, self.num_pixels))
    return tf.reshape(sampling.bernoulli_log_prob(
        logits, x, axis=2), [-1])

  # The hooks of `DiscreteVAE`.

  def _features(self, x):
    """x - mean, flattened, [N, H W C]; no local features."""
    return tf.reshape(x, [-1, self.num_pixels]) - self._train_mean, None

  def _bound_terms(self, x, beta, seed, kl_weight, training):
    del kl_weight
    encode_seed, kl_seed = philox.split(seed, n=2)
    features, _ = self._features(x)
    posterior = self.global_posterior(features, beta, encode_seed, training)
    log_px = self.decoder_log_prob(x, posterior.zetas, training=training)
    kl = self.prior.kl(posterior, beta, seed=kl_seed, training=training)
    return log_px, kl, kl

  def _log_conditional(self, x, local_features, z, seed, num_samples):
    del local_features, seed
    return self.decoder_log_prob(x, z, num_samples=num_samples)

  def _generate(self, z, seed):
    del seed
    return tf.math.sigmoid(self.decode_logits(z))

  def _reconstruction(self, x, local_features, z):
    del x, local_features
    return tf.math.sigmoid(self.decode_logits(z))
