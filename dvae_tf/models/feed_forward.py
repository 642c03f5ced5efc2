"""The feed-forward discrete VAE of Secs. 4, 5 and 7.1-7.2."""

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from dvae_tf import latents
from dvae_tf import networks
from dvae_tf import priors as priors_lib
from dvae_tf.models import pixel_likelihoods


class FeedForwardDVAE(keras.Model):
  """A discrete VAE with a hierarchical posterior and a directed or RBM prior.

  Posterior (Fig. 2(d)): groups i = 1..G, each factorial Bernoulli
  q(z_i | x, zeta_<i) with logits from a network of [x - mean, zeta_<i],
  relaxed by the smoothing r(zeta|z) of `smoothing` at inverse temperature
  beta. Prior: `priors.FactorialPrior` (Sec. 4) or `priors.RBMPrior`
  (Sec. 5). Decoder: p(x | zeta) factorial Bernoulli over pixels, from one
  network of all zeta, with its output bias at the logit of the training-set
  mean pixel (clipped to [0.001, 0.999]).

  Training maximizes `elbo`; evaluation uses `log_importance_weights` in the
  binary limit (beta -> infinity: zeta = z ~ Bernoulli), as in Burda et al.

  ```python
  model = build_model(ModelConfig(struct='2-layer-nonlin', prior='rbm'), mean)
  terms = model.elbo(x, beta=10., seed=(0, 1), training=True)
  nll = -evaluation.importance_weighted_bound(model, x, num_samples=4000)
  ```
  """

  def __init__(self, structure, prior, smoothing, train_mean, name=None,
               **kwargs):
    """Builds the networks.

    Args:
      structure: a `models.Structure` (groups, units, depth of networks).
      prior: a prior layer from `dvae_tf.priors`, built for the same groups.
      smoothing: a `dvae_tf.smoothing.Smoothing`.
      train_mean: [H, W, C] mean training pixel in [0, 1].
      name: model name.
      **kwargs: passed to `keras.Model`.
    """
    super().__init__(name=name or 'feed_forward_dvae', **kwargs)
    if isinstance(prior, priors_lib.RBMPrior) and not (
        smoothing.has_posterior_logits):
      raise ValueError(
          f'The RBM prior needs q(z | zeta) from the smoothing (Sec. 5); '
          f'{smoothing.name!r} does not provide it. Use exponential, '
          'logistic, power or spike_exp smoothing with the RBM prior.')
    self.structure = structure
    self.prior = prior
    self.smoothing = smoothing
    # The latent type of every group; named as DVAE++'s, whose local
    # variables this model lacks: all of its latents are global.
    self.global_latent = latents.SmoothedBinary(smoothing)
    train_mean = np.asarray(train_mean, np.float32)
    self.image_shape = tuple(train_mean.shape)
    self.num_pixels = int(np.prod(self.image_shape))
    self.group_sizes = structure.group_sizes
    self._train_mean = tf.constant(train_mean.reshape(-1))
    net = dict(num_hidden=structure.num_hidden,
               hidden_units=structure.hidden_units,
               activation=structure.activation,
               batch_norm=structure.batch_norm)
    self.encoder_nets = [networks.mlp(units, name=f'encoder_{i + 1}', **net)
                         for i, units in enumerate(self.group_sizes)]
    mean = np.clip(self._train_mean.numpy(), 1e-3, 1. - 1e-3)
    self.decoder_net = networks.mlp(
        self.num_pixels, output_bias=np.log(mean) - np.log1p(-mean),
        name='decoder', **net)

  def build(self, input_shape=None):
    """Creates every weight by one pass through the posterior and the prior."""
    del input_shape
    x = tf.zeros((1,) + self.image_shape)
    posterior, _ = self.encode_binary(x)
    self.decode_logits(posterior.zetas)
    self.prior.log_prob(posterior.zetas)
    self.built = True

  # The posterior.

  def _encoder_input(self, x):
    return tf.reshape(x, [-1, self.num_pixels]) - self._train_mean

  def encode(self, x, beta, seed, training=False):
    """A relaxed sample of the hierarchical posterior, a `PosteriorSample`."""
    return latents.hierarchical_relaxed(
        self.encoder_nets, self._encoder_input(x),
        self.global_latent, beta, seed, training=training)

  def encode_binary(self, x, seed=None, training=False):
    """The binary-limit posterior: z_i ~ Bernoulli(q(z_i | x, z_<i)).

    With `seed=None`, the mode path z_i = [q_i > 1/2] instead of a sample.

    Returns:
      (PosteriorSample with zetas = samples = z, log q(z | x) [N]).
    """
    return latents.hierarchical_exact(
        self.encoder_nets, self._encoder_input(x),
        self.global_latent, seed=seed, training=training)

  # The decoder.

  def decode_logits(self, zetas, training=False):
    """Pixel logits of p(x | zeta), [N, H, W, C]."""
    logits = self.decoder_net(tf.concat(zetas, axis=-1), training=training)
    return tf.reshape(logits, (-1,) + self.image_shape)

  def log_likelihood(self, x, zetas, training=False, num_samples=1):
    """log p(x | zeta) summed over pixels, [k N].

    zetas hold k = `num_samples` samples per image of x [N, H, W, C],
    sample-major (x itself is broadcast, not tiled).
    """
    logits = self.decode_logits(zetas, training=training)
    logits = tf.reshape(logits, (num_samples, -1) + self.image_shape)
    return tf.reshape(pixel_likelihoods.bernoulli_log_prob(
        logits, x[tf.newaxis], axis=(2, 3, 4)), [-1])

  # Bounds.

  def elbo(self, x, beta, seed, kl_weight=1., num_samples=1, training=False):
    """The training bound per example, with `num_samples` samples each.

    bound = log p(x | zeta) - kl_weight * KL, where KL is the prior's: Eq. 4
    or Eq. 5 (factorial prior) or Sec. 5 (RBM prior; in training its log Z
    has the gradient of the persistent-chain surrogate, Appendix E). With
    num_samples = k > 1, the marginal bound (Eq. 5) becomes the
    importance-weighted bound log mean_k exp(bound_k) (as in DVAE#); the other
    bounds, whose KLs are not single-sample log ratios, average the k bounds.

    Args:
      x: images [B, H, W, C] in {0, 1}.
      beta: inverse temperature (scalar).
      seed: stateless seed.
      kl_weight: KL annealing coefficient.
      num_samples: samples per example.
      training: training mode (batch norm, persistent chains).

    Returns:
      dict of [B] tensors: `bound`, `log_likelihood`, `kl`.
    """
    encode_seed, kl_seed = tfp.random.split_seed(seed, n=2)
    batch = tf.shape(x)[0]
    x_k = tf.tile(x, [num_samples, 1, 1, 1])
    posterior = self.encode(x_k, beta, encode_seed, training=training)
    log_px = self.log_likelihood(x_k, posterior.zetas, training=training)
    kl = self.prior.kl(posterior, self.smoothing, beta, seed=kl_seed,
                       training=training)
    bound = tf.reshape(log_px - kl_weight * kl, [num_samples, batch])
    marginal = getattr(self.prior, 'marginal', False)
    if num_samples > 1 and marginal:
      combined = (tf.reduce_logsumexp(bound, axis=0) -
                  tf.math.log(tf.cast(num_samples, bound.dtype)))
    else:
      combined = tf.reduce_mean(bound, axis=0)

    def per_example(t):
      return tf.reduce_mean(tf.reshape(t, [num_samples, batch]), axis=0)

    return {'bound': combined, 'log_likelihood': per_example(log_px),
            'kl': per_example(kl)}

  def log_importance_weights(self, x, seed, log_z=None, num_samples=1):
    """log p(x | z) + log p(z) - log q(z | x) for binary z ~ q(z | x).

    `num_samples` = k samples per image, [k N] values laid out as for x
    tiled k times (sample-major); the first group's network runs once per
    image (`latents.hierarchical_exact`).
    """
    posterior, log_q = latents.hierarchical_exact(
        self.encoder_nets, self._encoder_input(x), self.global_latent,
        seed=seed, num_samples=num_samples)
    return (self.log_likelihood(x, posterior.zetas, num_samples=num_samples) +
            self.prior.log_prob(posterior.zetas, log_z=log_z) - log_q)

  # Generation and reconstruction.

  def sample(self, num_samples, seed):
    """(Bernoulli means [n, H, W, C], binary latents [n, units]) from the prior."""
    z = self.prior.sample(num_samples, seed)
    return tf.math.sigmoid(self.decode_logits(z)), tf.concat(z, axis=-1)

  def reconstruct(self, x):
    """Bernoulli means of p(x | z) at the posterior's mode path, [N, H, W, C]."""
    posterior, _ = self.encode_binary(x)
    return tf.math.sigmoid(self.decode_logits(posterior.zetas))

  def call(self, x, training=False):
    return self.reconstruct(x)

  def weight_decay_loss(self):
    """sum ||kernel||^2 / 2 + ||BN gamma||^2 / 2 (+ ||W_RBM||^2 / 2), Appendix F notes."""
    return networks.weight_decay_loss(self)
