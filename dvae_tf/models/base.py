"""`DiscreteVAE`: what the feed-forward model and DVAE++ share, once.

Both models have a hierarchical posterior over global latent groups
(`dvae_tf.posterior`, Fig. 2(d)) under a `priors.Prior`, and a decoder; DVAE++
adds local groups between them. The base owns the bound's set-up (seeds,
samples per example, the combination of samples), the importance weights of
evaluation, sampling, reconstruction and weight decay; a model implements
the hooks:

- `_features(x)`: (features the global posterior reads [N, F], features the
  local posterior reads, or None);
- `_bound_terms(x, beta, seed, kl_weight, training)`: (log p(x | ...), the
  KL, the KL as penalized) per row, for the relaxed model;
- `_log_conditional(x, local_features, z, seed, num_samples)`:
  log p(x, h | z) - log q(h | x, z), [k N], for unrelaxed global z;
- `_generate(z, seed)` and `_reconstruction(x, local_features, z)`: image
  means from global latents.
"""

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from dvae_tf import networks
from dvae_tf import posterior as posterior_lib

# The entry points have only Python control flow over static structure (the
# groups and scales), so AutoGraph has nothing to convert inside a
# tf.function; skipping it saves seconds of tracing for a 16-group model.
static_graph = tf.autograph.experimental.do_not_convert


class DiscreteVAE(keras.Model):
  """A discrete VAE: global latents under a prior, a posterior, a decoder.

  Subclasses set `global_nets` (one network per global group, the
  posterior's) and implement the hooks of the module docstring.
  """

  # Rows (batch x importance samples) that one evaluation chunk may hold.
  max_evaluation_rows = 20_000
  # Groups of local latents (DVAE++'s h); 0 for a model without them.
  num_local_groups = 0

  def __init__(self, prior, global_latent, train_mean, name=None, **kwargs):
    """Args: prior: a `priors.Prior`; global_latent: the `latents` type of
    the global groups; train_mean: [H, W, C] mean training image in [0, 1];
    name, **kwargs: passed to `keras.Model`."""
    super().__init__(name=name, **kwargs)
    self.prior = prior
    self.global_latent = global_latent
    self.group_sizes = list(prior.group_sizes)
    self.image_shape = tuple(np.shape(train_mean))

  @property
  def bound_is_log_ratio(self):
    """Whether a sample's bound is a log ratio, so k samples combine by
    log-mean-exp (the importance-weighted bound, as in DVAE#)."""
    return self.prior.kl_is_log_ratio

  def build(self, input_shape=None):
    """Creates every weight by one pass through posterior, prior and decoder."""
    del input_shape
    self.log_importance_weights(tf.zeros((1,) + self.image_shape), (0, 0))
    self.built = True

  def _check_images(self, x):
    x = tf.convert_to_tensor(x, tf.float32)
    if x.shape.rank != 4 or not x.shape[1:].is_compatible_with(
        self.image_shape):
      raise ValueError(f'{type(self).__name__}: x must be images [batch, '
                       f'{", ".join(map(str, self.image_shape))}]; got shape '
                       f'{x.shape}.')
    return x

  # The global posterior.

  def global_posterior(self, features, beta, seed, training=False):
    """A relaxed sample of prod_i q(z_i | x, zeta_<i), a `PosteriorSample`."""
    return posterior_lib.hierarchical_relaxed(
        self.global_nets, features, self.global_latent, beta, seed,
        training=training)

  @static_graph
  def encode_binary(self, x, seed=None, training=False):
    """The global posterior in the binary limit: z_i ~ q(z_i | x, z_<i).

    With `seed=None`, the mode path (the mean for continuous latents).

    Returns:
      (PosteriorSample with zetas = samples = z, log q(z | x) [N]).
    """
    features, _ = self._features(self._check_images(x))
    return posterior_lib.hierarchical_exact(
        self.global_nets, features, self.global_latent, seed=seed,
        training=training)

  # Bounds.

  @static_graph
  def elbo(self, x, beta, seed, kl_weight=1., num_samples=1, training=False):
    """The training bound per example, with `num_samples` samples each.

    bound = log p(x | ...) - kl_weight * KL, the KL the prior's (Eq. 4,
    Eq. 5 or Sec. 5) plus, in DVAE++, the local groups'. With
    num_samples = k > 1, a bound that is a single-sample log ratio
    (`bound_is_log_ratio`: the marginal ELBO, Eq. 5) becomes the
    importance-weighted bound log mean_k exp(bound_k), as in DVAE#; the
    others average the k bounds.

    Args:
      x: images [B, H, W, C] (binary, or integers 0..255).
      beta: inverse temperature of the smoothing (scalar).
      seed: stateless seed.
      kl_weight: KL warm-up coefficient.
      num_samples: samples per example.
      training: training mode (batch norm, persistent chains).

    Returns:
      dict of [B] tensors: `bound`, `log_likelihood` (log p(x | ...)) and
      `kl` (unweighted).
    """
    x = self._check_images(x)
    batch = tf.shape(x)[0]
    x_k = tf.tile(x, [num_samples, 1, 1, 1])
    log_px, kl, penalty = self._bound_terms(x_k, beta, seed, kl_weight,
                                            training)
    bound = tf.reshape(log_px - kl_weight * penalty, [num_samples, batch])
    if num_samples > 1 and self.bound_is_log_ratio:
      combined = (tf.reduce_logsumexp(bound, axis=0) -
                  tf.math.log(tf.cast(num_samples, bound.dtype)))
    else:
      combined = tf.reduce_mean(bound, axis=0)

    def per_example(t):
      return tf.reduce_mean(tf.reshape(t, [num_samples, batch]), axis=0)

    return {'bound': combined, 'log_likelihood': per_example(log_px),
            'kl': per_example(kl)}

  @static_graph
  def log_importance_weights(self, x, seed, num_samples=1):
    """log w for `num_samples` samples per image, [k N].

    log w = log p(x, h | z) + log p(z) - log q(z | x) - log q(h | x, z),

    z the global latents, binary in the binary limit (beta -> infinity), h
    the local ones (none in the feed-forward model). log p(z) uses the
    prior's stored log Z (`Prior.refresh_log_normalizer`). The k samples are
    laid out as for x tiled k times (sample-major); the networks that read
    x only run once per image.
    """
    x = self._check_images(x)
    global_seed, local_seed = tfp.random.split_seed(seed, n=2)
    features, local_features = self._features(x)
    posterior, log_q = posterior_lib.hierarchical_exact(
        self.global_nets, features, self.global_latent, seed=global_seed,
        num_samples=num_samples)
    return (self.prior.log_prob(posterior.zetas) - log_q +
            self._log_conditional(x, local_features, posterior.zetas,
                                  local_seed, num_samples))

  # Generation and reconstruction.

  @static_graph
  def sample(self, num_samples, seed, samples_per_global=1):
    """(image means [n, H, W, C] in [0, 1], global latents [n, units]).

    z from the prior, then the rest of the generative model. With
    `samples_per_global = k`, every k consecutive samples share one global
    z (the layout of Fig. 4; identical images without local latents).
    """
    if samples_per_global < 1:
      raise ValueError(f'samples_per_global must be a positive integer; got '
                       f'{samples_per_global}.')
    global_seed, rest_seed = tfp.random.split_seed(seed, n=2)
    num_global = -(-num_samples // samples_per_global)
    z = [tf.repeat(g, samples_per_global, axis=0)[:num_samples]
         for g in self.prior.sample(num_global, global_seed)]
    return self._generate(z, rest_seed), tf.concat(z, axis=-1)

  @static_graph
  def decode_global(self, z, seed):
    """Image means [n, H, W, C] for given global latents z [n, units].

    The rest of the generative model as in `sample`, from samples of the
    prior drawn elsewhere: a dimod sampler or a QPU (`dvae_tf.ocean`).

    Raises:
      ValueError: if z is not [n, units] binary-valued floats.
    """
    z = tf.convert_to_tensor(z, tf.float32)
    units = sum(self.group_sizes)
    if z.shape.rank != 2 or z.shape[-1] != units:
      raise ValueError(f'decode_global: z must be [n, {units}] (the global '
                       f'latent units); got shape {z.shape}.')
    return self._generate(tf.split(z, self.group_sizes, axis=-1), seed)

  @static_graph
  def reconstruct(self, x):
    """Means of p(x | z, ...) on the posterior's mode path, [N, H, W, C]."""
    x = self._check_images(x)
    features, local_features = self._features(x)
    posterior, _ = posterior_lib.hierarchical_exact(
        self.global_nets, features, self.global_latent)
    return self._reconstruction(x, local_features, posterior.zetas)

  def call(self, x, training=False):
    return self.reconstruct(x)

  def weight_decay_loss(self):
    """sum ||v||^2 / 2 over kernels, BN scales and the prior's own (W_RBM)."""
    return networks.squared_norm(networks.decayed_variables(self) +
                                 self.prior.decayed_weights())

  # The hooks (see the module docstring).

  def _features(self, x):
    raise NotImplementedError

  def _bound_terms(self, x, beta, seed, kl_weight, training):
    raise NotImplementedError

  def _log_conditional(self, x, local_features, z, seed, num_samples):
    raise NotImplementedError

  def _generate(self, z, seed):
    raise NotImplementedError

  def _reconstruction(self, x, local_features, z):
    raise NotImplementedError
