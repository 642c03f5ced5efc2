"""DVAE++: a global RBM prior and a hierarchy of local conv latents (Sec. 6)."""

import keras
import numpy as np
import tensorflow as tf

from dvae_tf.networks import kl_balancing as kl_balancing_lib
from dvae_tf.networks import mlp as networks
from dvae_tf.networks import se_resnet
from dvae_tf.models import base
from dvae_tf.models import multiscale_decoder
from dvae_tf.networks.pyramid import ImagePyramid
from dvae_tf import philox


@keras.saving.register_keras_serializable(package='dvae_tf')
class DVAEpp(base.DiscreteVAE):
  """The DVAE++ model of Fig. 3: global z (RBM prior) and local h (Sec. 6.1).

  Generative model (Sec. 6.1):

      p(z, zeta, h, x) = p(z) prod_i r(zeta_i | z_i) prod_j p(h_j | zeta, h_<j)
                         p(x | zeta, h),

  with p(z) an RBM over z = [z1, z2] (or a directed Bernoulli or Normal prior
  for the baselines of Table 3), r the smoothing, h_j the J local groups
  (factorial Normal, or smoothed Bernoulli for the all-discrete rows) of
  `local_channels` variables at every location of the P/4 x P/4 feature map,
  and p(x | zeta, h) factorial or multi-scale (`MultiScaleDecoder`).
  Inference model:

      q(z, zeta, h | x) = prod_i q(z_i | x, zeta_<i) r(zeta_i | z_i)
                          prod_j q(h_j | x, zeta, h_<j).

  Networks (Sec. 6.2; widths in `models.config.Architecture`): an SE-ResNet
  encoder with stages at P, P/2, P/4, P/8 (P the padded image side, 32);
  fully connected networks on its flattened P/8 top give the global groups
  (`posterior.hierarchical_relaxed`); a lift network (dense to P/8, residual
  blocks, upsampling block) turns zeta into the decoder state at P/4; for each
  local group j, residual networks give p(h_j | state) from the state and
  q(h_j | x, state) from [state, encoder features at P/4], and a residual cell
  folds h_j into the state; upsampling residual stages give features at
  P/4, P/2 and P for the likelihood heads.

  Training maximizes `elbo` (KL of the global prior from `prior.kl`, closed
  form or marginal KLs for the local groups, KL balancing during warm-up);
  evaluation uses `log_importance_weights` with binary global (and binary
  local, when Bernoulli) variables.

  ```python
  model = DVAEppConfig(struct='mnist').build(train_mean)
  model.build()
  terms = model.elbo(x, beta=10., seed=(0, 1), kl_weight=0.5, training=True)
  nll = -evaluation.importance_weighted_bound(model, x, num_samples=4000)
  images, z = model.sample(25, seed=(0, 1), samples_per_global=5)   # Fig. 4
  ```
  """

  max_evaluation_rows = 1000
  # On CPUs XLA's convolutions are slower than oneDNN's: the graph step is
  # the faster one (reports/benchmark_presets.json).
  xla_step_is_faster = False

  def __init__(self, architecture, prior, global_latent, local_latent,
               likelihood, train_mean, conditional_decoder=False,
               downsampling='pool', kl_balancing=True, name=None, **kwargs):
    """Builds the networks.

    Args:
      architecture: a `models.config.Architecture`.
      prior: the `priors.Prior` over the global latents, for their groups.
      global_latent: the `latents` type of the global groups.
      local_latent: the `latents` type of the local groups.
      likelihood: a `pixel_likelihoods` family.
      train_mean: [H, W, C] mean training image in [0, 1].
      conditional_decoder: multi-scale decoder from 4x4 (else factorial).
      downsampling: of the scale pyramid ('pool' or 'subsample').
      kl_balancing: balance the local groups' KLs during warm-up.
      name: model name.
      **kwargs: passed to `keras.Model`.
    """
    super().__init__(prior, global_latent, train_mean,
                     name=name or 'dvaepp', **kwargs)
    self.architecture = architecture
    self.local_latent = local_latent
    self.likelihood = likelihood
    self.kl_balancing = kl_balancing
    train_mean = np.asarray(train_mean, np.float32)
    side = ImagePyramid(self.image_shape).padded_size
    if side < 8:
      raise ValueError(f'DVAEpp: images must pad to at least 8x8 (the top '
                       f'is P/8); got {self.image_shape}.')
    num_scales = int(np.log2(side // 4)) + 1 if conditional_decoder else 1
    self.pyramid = ImagePyramid(self.image_shape, num_scales=num_scales,
                                downsampling=downsampling,
                                binary=likelihood.binary)
    self.local_size = side // 4
    self._padded_mean = tf.constant(self.pyramid.pad(train_mean[None]))

    ch = architecture.channels
    blocks = architecture.blocks_per_stage
    se = architecture.se_reduction

    def stack(channels, resample=None, name=None):
      return se_resnet.residual_stack(channels, blocks, resample=resample,
                                      se_reduction=se, name=name)

    self.encoder_stages = [
        se_resnet.Chain([keras.layers.Conv2D(ch[0], 3, padding='same'),
                         stack(ch[0])], name='encoder_stage_1'),
        stack(ch[1], 'down', 'encoder_stage_2'),
        stack(ch[2], 'down', 'encoder_stage_3'),
        stack(ch[3], 'down', 'encoder_stage_4')]
    self.global_nets = [
        networks.mlp(units * global_latent.params_per_unit, num_hidden=1,
                     hidden_units=architecture.fc_units, activation='swish',
                     name=f'global_posterior_{i + 1}')
        for i, units in enumerate(self.group_sizes)]
    top = side // 8
    self.global_lift = se_resnet.Chain([
        keras.layers.Dense(top * top * ch[3]),
        keras.layers.Reshape((top, top, ch[3])),
        stack(ch[3]), stack(ch[2], 'up')], name='global_lift')

    self.local_channels = architecture.local_channels
    num_params = local_latent.params_per_unit * self.local_channels

    def params_head():
      return [se_resnet.ResidualBlock(ch[2], se_reduction=se),
              keras.layers.Activation('swish'),
              keras.layers.Conv2D(num_params, 3, padding='same',
                                  kernel_initializer='zeros')]

    groups = range(1, architecture.num_local_groups + 1)
    self.local_prior_nets = [
        se_resnet.Chain(params_head(), name=f'local_prior_{j}')
        for j in groups]
    self.local_posterior_nets = [
        se_resnet.Chain([keras.layers.Conv2D(ch[2], 1)] + params_head(),
                        name=f'local_posterior_{j}') for j in groups]
    self.local_inputs = [keras.layers.Conv2D(ch[2], 1, name=f'local_input_{j}')
                         for j in groups]
    self.local_cells = [se_resnet.ResidualBlock(ch[2], se_reduction=se,
                                                name=f'local_cell_{j}')
                        for j in groups]
    self.decoder_stages = [stack(ch[2], name='decoder_stage_3'),
                           stack(ch[1], 'up', 'decoder_stage_2'),
                           stack(ch[0], 'up', 'decoder_stage_1')]
    self.pixel_decoder = multiscale_decoder.MultiScaleDecoder(
        self.pyramid, likelihood, ch[0], train_mean, se_reduction=se,
        name='pixel_decoder')

  @property
  def num_local_groups(self):
    return len(self.local_cells)

  # The encoder and the global posterior.

  def encoder_features(self, x):
    """(features at P/4 [N, P/4, P/4, C], flattened top features [N, F]).

    The convolutional networks have no training-mode behaviour (no batch
    normalization or dropout), so they take no `training` argument.
    """
    h = self.pyramid.pad(x / self.likelihood.max_value) - self._padded_mean
    outputs = []
    for stage in self.encoder_stages:
      h = stage(h)
      outputs.append(h)
    top = outputs[3]
    return outputs[2], tf.reshape(top, [-1, int(np.prod(top.shape[1:]))])

  # The local groups.

  def lift(self, zetas):
    """The decoder state at P/4 from the global zeta (a list of groups)."""
    return self.global_lift(tf.concat(zetas, axis=-1))

  def _flat_params(self, params):
    """[N, s, s, P*C] conv output -> [N, P*s*s*C], each parameter contiguous."""
    batch = tf.shape(params)[0]
    return tf.concat([tf.reshape(p, [batch, -1]) for p in tf.split(
        params, self.local_latent.params_per_unit, axis=-1)], axis=-1)

  def _local_groups(self, state, local_features, choose):
    """Runs the J local groups in order (Fig. 3).

    Args:
      state: [N, P/4, P/4, C] decoder state after the lift.
      local_features: encoder features at P/4, or None (prior only).
      choose: (j, prior params [N, units * P], posterior params or None) ->
        (h_j [N, units], a per-example term [N]).

    Returns:
      (final state, list of the J terms).
    """
    size = self.local_size
    terms = []
    for j in range(self.num_local_groups):
      prior_params = self._flat_params(self.local_prior_nets[j](state))
      posterior_params = None
      if local_features is not None:
        posterior_params = self._flat_params(self.local_posterior_nets[j](
            tf.concat([state, local_features], axis=-1)))
      h, term = choose(j, prior_params, posterior_params)
      h = tf.reshape(h, [-1, size, size, self.local_channels])
      state = self.local_cells[j](state + self.local_inputs[j](h))
      terms.append(term)
    return state, terms

  def local_posterior(self, state, local_features, beta, seed):
    """Relaxed h_j ~ q(h_j | x, zeta, h_<j) and KL_j, for training.

    KL_j is the closed-form KL(q(h_j | ...) || p(h_j | zeta, h_<j)) for
    Normal groups and the marginal KL (Eq. 5) for smoothed Bernoulli ones,
    both at the sampled earlier groups.

    Returns:
      (final state, [N, J] per-group KLs).
    """
    seeds = philox.split(seed, n=self.num_local_groups)

    def choose(j, prior_params, posterior_params):
      q, sample, h = self.local_latent.relaxed_sample(posterior_params, beta,
                                                      seeds[j])
      return h, self.local_latent.kl(q, sample, prior_params, beta)

    state, kls = self._local_groups(state, local_features, choose)
    return state, tf.stack(kls, axis=-1)

  # The decoder.

  def decoder_features(self, state):
    """{side: features} at P/4, P/2 and P from the final local state."""
    features = {}
    for stage in self.decoder_stages:
      state = stage(state)
      features[state.shape[1]] = state
    return features

  def decoder_log_prob(self, x, state, num_samples=1):
    """log p(x | zeta, h) [k N] given the final local state, which holds k =
    `num_samples` samples per image of x [N, H, W, C], sample-major."""
    return self.pixel_decoder.log_prob(self.decoder_features(state), x,
                                       num_samples)

  # The hooks of `DiscreteVAE`.

  @property
  def bound_is_log_ratio(self):
    """False: the local KLs are closed form, or reweighted by KL balancing."""
    return False

  def _features(self, x):
    """(flattened top features [N, F], encoder features at P/4)."""
    local_features, top = self.encoder_features(x)
    return top, local_features

  def _bound_terms(self, x, beta, seed, kl_weight, training):
    """log p(x | zeta, h), KL_global + sum_j KL_j and its penalized form.

    The penalty is KL_global + sum_j g_j KL_j, g_j = 1 or the KL-balancing
    coefficients during warm-up (`kl_balancing`).
    """
    global_seed, local_seed, kl_seed = philox.split(seed, n=3)
    local_features, top = self.encoder_features(x)
    posterior = self.global_posterior(top, beta, global_seed, training)
    kl_global = self.prior.kl(posterior, beta, seed=kl_seed,
                              training=training)
    state, kl_local = self.local_posterior(self.lift(posterior.zetas),
                                           local_features, beta, local_seed)
    log_px = self.decoder_log_prob(x, state)
    if self.kl_balancing:
      local_penalty = kl_balancing_lib.balanced_kl(kl_local, kl_weight)
    else:
      local_penalty = tf.reduce_sum(kl_local, axis=-1)
    return (log_px, kl_global + tf.reduce_sum(kl_local, axis=-1),
            kl_global + local_penalty)

  def _log_conditional(self, x, local_features, z, seed, num_samples):
    """log p(x | z, h) + sum_j [log p(h_j | z, h_<j) - log q(h_j | ...)].

    h sampled from the posterior (binary for Bernoulli local groups); the
    encoder's features, computed once per image, are tiled k times for the
    local posterior networks, and x is broadcast over the k samples
    (`MultiScaleDecoder.log_prob`).
    """
    local_features = tf.tile(local_features, [num_samples, 1, 1, 1])
    seeds = philox.split(seed, n=self.num_local_groups)

    def choose(j, prior_params, posterior_params):
      h, log_q_h = self.local_latent.exact_sample(posterior_params, seeds[j])
      return h, self.local_latent.log_prob(prior_params, h) - log_q_h

    state, terms = self._local_groups(self.lift(z), local_features, choose)
    return (self.decoder_log_prob(x, state, num_samples) +
            tf.add_n(terms))

  def _generate(self, z, seed):
    """h_j ~ p(h_j | zeta, h_<j), then the coarser scales of x sampled and
    the mean of the finest."""
    local_seed, pixel_seed = philox.split(seed, n=2)
    seeds = philox.split(local_seed, n=self.num_local_groups)

    def choose(j, prior_params, unused_posterior_params):
      return self.local_latent.exact_sample(prior_params, seeds[j])[0], 0.

    state, _ = self._local_groups(self.lift(z), None, choose)
    return self.pixel_decoder.sample(self.decoder_features(state), pixel_seed)

  def _reconstruction(self, x, local_features, z):
    """Local h at their posterior means; finer scales conditioned on the
    coarser scales of x itself."""

    def choose(j, unused_prior_params, posterior_params):
      return self.local_latent.exact_sample(posterior_params)[0], 0.

    state, _ = self._local_groups(self.lift(z), local_features, choose)
    return self.pixel_decoder.reconstruct(self.decoder_features(state), x)
