"""`DiscreteVAE`: what the feed-forward model and DVAE++ share, once.

Both models have a hierarchical posterior over global latent groups
(`dvae_tf.math.posterior`, Fig. 2(d)) under a `priors.Prior`, and a
decoder; DVAE++ adds local groups between them. The base owns the bound's
set-up (seeds, samples per example, the combination of samples), the
importance weights of evaluation, sampling, reconstruction and weight decay;
a model implements the hooks:

- `_features(x)`: (features the global posterior reads [N, F], features the
  local posterior reads, or None);
- `_bound_terms(x, beta, seed, kl_weight, training)`: (log p(x | ...), the
  KL, the KL as penalized) per row, for the relaxed model;
- `_log_conditional(x, local_features, z, seed, num_samples)`:
  log p(x, h | z) - log q(h | x, z), [k N], for unrelaxed global z;
- `_generate(z, seed)` and `_reconstruction(x, local_features, z)`: image
  means from global latents.

It is also a Keras model in Keras' own terms: `compile(optimizer=...,
train_config=...)`, then `fit` trains the objective of `dvae-train`
(`training_objective`, the same seeds for the same step, the prior's
persistent chains included, and its log Z refreshed every
`train_config.log_z_every` steps by `RefreshLogNormalizer`); `evaluate`
reports the importance-weighted bound; `get_config`/`from_config` make
`model.save('m.keras')` and `keras.models.load_model` round-trip.
"""

import json

import keras
import numpy as np
import tensorflow as tf

from dvae_tf.networks import mlp as networks
from dvae_tf.math import posterior as posterior_lib
from dvae_tf.distributions.ais import MONITOR_AIS_CHAINS
from dvae_tf.distributions.ais import MONITOR_AIS_TEMPERATURES
from dvae_tf.train_config import TrainConfig
from dvae_tf import philox

# The entry points have only Python control flow over static structure (the
# groups and scales), so AutoGraph has nothing to convert inside a
# tf.function; skipping it saves seconds of tracing for a 16-group model.
static_graph = tf.autograph.experimental.do_not_convert


class DiscreteVAE(keras.Model):
  """A discrete VAE: global latents under a prior, a posterior, a decoder.

  Subclasses set `global_nets` (one network per global group, the
  posterior's) and implement the hooks of the module docstring.
  """

  # Rows (batch x importance samples) that one evaluation chunk may hold
  # (`bin/benchmark.py --suites=evaluation`, the Table 2 model on two cores:
  # 5,000 rows score fastest; at 20,000 the chunk's [rows, 784] tensors
  # (63 MB) are mapped anew for every chunk and page faults took a third of
  # the time).
  max_evaluation_rows = 5_000
  # Groups of local latents (DVAE++'s h); 0 for a model without them.
  num_local_groups = 0

  @property
  def xla_step_is_faster(self):
    """Whether the training step runs faster compiled by XLA than as a graph
    (`TrainConfig.compiles_with_xla`; reports/benchmark_presets.json): yes,
    unless the global latents' smoothing (`Smoothing.xla_is_faster`) or the
    prior (`Prior.xla_step_is_faster`: the persistent chains of a Boltzmann
    prior, past a size) says otherwise."""
    smoothing = getattr(self.global_latent, 'smoothing', None)
    return ((smoothing is None or smoothing.xla_is_faster) and
            self.prior.xla_step_is_faster)

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

  # Keras' own training, evaluation and saving.

  def set_build_record(self, model_config, train_mean, binary):
    """What `get_config` returns: the model config (a dict) it was built
    from, the training mean and whether the data are binary."""
    object.__setattr__(self, '_build_record', json.dumps({
        'model_config': model_config,
        'train_mean': np.asarray(train_mean, np.float32).tolist(),
        'binary': binary}))

  def get_config(self):
    record = getattr(self, '_build_record', None)
    if record is None:
      raise ValueError(f'{type(self).__name__} was not built from a model '
                       'config; build it with `models.config.build_model` '
                       'to save it as .keras.')
    config = json.loads(record)
    train_config = getattr(self, '_train_config', None)
    if train_config is not None:
      config['train_config'] = dict(vars(train_config))
    return config

  # The model a `get_config` record describes: `models.config` (which
  # imports the models) sets it to its `model_from_record`.
  model_from_record = None

  @classmethod
  def from_config(cls, config):
    model = DiscreteVAE.model_from_record(config)
    model.build()
    if 'train_config' in config:
      model.set_train_config(TrainConfig(**config['train_config']))
    return model

  def set_train_config(self, train_config):
    """Sets the `TrainConfig` whose schedules `training_objective` follows."""
    object.__setattr__(self, '_train_config', train_config)

  @property
  def train_config(self):
    """The `TrainConfig` of `fit` (`compile`'s; default `TrainConfig()`)."""
    return getattr(self, '_train_config', None) or TrainConfig()

  def compile(self, optimizer=None, train_config=None, **kwargs):
    """Keras' compile; `optimizer` defaults to the paper's Adam on the
    `train_config` schedule (`TrainConfig.make_optimizer`). The loss is the
    model's own (`training_objective`): pass no `loss`."""
    if train_config is not None:
      self.set_train_config(train_config)
    if optimizer is None:
      optimizer = self.train_config.make_optimizer()
    # XLA as `train_config` asks (`compiles_with_xla`), where Keras can
    # compile the whole step: with one replica (the optimizer's all-reduce
    # cannot sit inside an XLA computation).
    kwargs.setdefault('jit_compile', self.train_config.compiles_with_xla(
        self) and self.distribute_strategy.num_replicas_in_sync == 1)
    super().compile(optimizer=optimizer, **kwargs)

  def get_compile_config(self):
    if getattr(self, 'optimizer', None) is None:
      return None
    return {'optimizer': keras.optimizers.serialize(self.optimizer)}

  def compile_from_config(self, config):
    self.compile(optimizer=keras.optimizers.deserialize(config['optimizer']))
    if self.built:  # So that a .keras file's optimizer state loads into it.
      self.optimizer.build(self.trainable_variables)

  def training_objective(self, x, step, replica=0, num_replicas=1,
                         num_samples=None):
    """(loss, monitored scalars) of one replica's batch at training `step`.

    loss = -(1 / B) sum_b bound_b(beta_t, kl_weight_t)
           + weight_decay * weight_decay_loss() / num_replicas,

    B the global batch (this replica's rows times `num_replicas`), beta_t
    and kl_weight_t the schedules of `train_config` (`elbo`, Eq. 4-5 or
    Sec. 5's KL), the seed keyed by (seed, step, replica) so a run is
    reproducible and resumes exactly. The monitored `bound` is the
    unannealed one (KL weight 1), summed over the batch / B like the loss.
    `num_samples` (default `train_config.num_iw_train`) is k of the bound.
    """
    cfg = self.train_config
    seed = philox.fold_in(
        philox.fold_in(
            tf.constant([cfg.seed, 1], tf.int32), step), replica)
    beta, kl_weight = cfg.beta(step), cfg.kl_weight(step)
    terms = self.elbo(x, beta, seed, kl_weight=kl_weight,
                      num_samples=num_samples or cfg.num_iw_train,
                      training=True)
    batch = tf.cast(tf.shape(x)[0] * num_replicas, tf.float32)
    loss = -tf.reduce_sum(terms['bound']) / batch
    if cfg.weight_decay:  # Python: no sum of squares to multiply by 0.
      loss += cfg.weight_decay * self.weight_decay_loss() / num_replicas
    bound = terms['log_likelihood'] - terms['kl']
    return loss, {'loss': loss, 'bound': tf.reduce_sum(bound) / batch,
                  'kl': tf.reduce_sum(terms['kl']) / batch, 'beta': beta,
                  'kl_weight': kl_weight}

  def train_step(self, data):
    """Keras' training step: one update on `training_objective`."""
    x = data[0] if isinstance(data, (tuple, list)) else data
    context = tf.distribute.get_replica_context()
    with tf.GradientTape() as tape:
      loss, logs = self.training_objective(
          x, self.optimizer.iterations, context.replica_id_in_sync_group,
          context.num_replicas_in_sync)
    grads = tape.gradient(loss, self.trainable_variables)
    self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
    return logs

  def test_step(self, data):
    """Keras' evaluation step: the mean importance-weighted bound L_k of
    the batch, k = `train_config.validation_samples` (the binary model;
    log p(z) with the prior's stored log Z, refreshed by `evaluate`)."""
    x = data[0] if isinstance(data, (tuple, list)) else data
    x = self._check_images(x)
    k = self.train_config.validation_samples
    seed = tf.random.uniform([2], maxval=2**31 - 1, dtype=tf.int32)
    log_w = tf.reshape(self.log_importance_weights(x, seed, num_samples=k),
                       [k, -1])
    bound = (tf.reduce_logsumexp(log_w, axis=0) -
             tf.math.log(tf.cast(k, log_w.dtype)))
    if not hasattr(self, '_bound_mean'):
      object.__setattr__(self, '_bound_mean', keras.metrics.Mean('bound'))
    self._bound_mean.update_state(bound)
    return {'bound': self._bound_mean.result()}

  def evaluate(self, *args, **kwargs):
    """Keras' evaluate, after refreshing the prior's log Z (quick AIS where
    it is not exact); `bin/evaluate.py` is the paper's protocol."""
    self.prior.refresh_log_normalizer(
        ais_chains=MONITOR_AIS_CHAINS,
        ais_temperatures=MONITOR_AIS_TEMPERATURES,
        seed=(self.train_config.seed, 1))
    if hasattr(self, '_bound_mean'):
      self._bound_mean.reset_state()
    return super().evaluate(*args, **kwargs)

  def fit(self, *args, callbacks=None, **kwargs):
    """Keras' fit, with the prior's log Z refreshed as `dvae-train` does
    (`RefreshLogNormalizer`, every `train_config.log_z_every` steps)."""
    if args and isinstance(args[0], tf.data.Dataset):
      kwargs.setdefault('shuffle', False)  # A dataset's order is its own.
    callbacks = list(callbacks or [])
    every = self.train_config.log_z_every
    if every and not any(isinstance(c, RefreshLogNormalizer)
                         for c in callbacks):
      callbacks.insert(0, RefreshLogNormalizer(every))
    return super().fit(*args, callbacks=callbacks, **kwargs)

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
    global_seed, local_seed = philox.split(seed, n=2)
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
    global_seed, rest_seed = philox.split(seed, n=2)
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


class RefreshLogNormalizer(keras.callbacks.Callback):
  """Refreshes the prior's log Z every `every` training steps.

  Exact where the prior allows it, else the quick AIS of monitoring
  (MONITOR_AIS_CHAINS chains, MONITOR_AIS_TEMPERATURES temperatures) seeded by
  (train_config.seed, step): between refreshes the bound `log p(z)` uses
  lags the prior's parameters (Appendix E trains log Z's gradient by PCD,
  not its value). `dvae-train` and `fit` both use it.
  """

  def __init__(self, every):
    super().__init__()
    self.every = int(every)

  def on_train_batch_end(self, batch, logs=None):
    del batch, logs
    step = int(self.model.optimizer.iterations.numpy())
    if self.every and step % self.every == 0:
      self.refresh(self.model, self.model.train_config.seed, step)

  @staticmethod
  def refresh(model, seed, step):
    """Refreshes `model`'s prior's log Z at training `step`."""
    return model.prior.refresh_log_normalizer(
        ais_chains=MONITOR_AIS_CHAINS,
        ais_temperatures=MONITOR_AIS_TEMPERATURES,
        seed=(seed, step))
