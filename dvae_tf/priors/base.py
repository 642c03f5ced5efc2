"""The interface every prior over the global latents implements.

A prior is a Keras layer (its parameters are the model's weights) built for
the posterior's groups and the smoothing of its binary latents. The model
calls only the public methods of `Prior`; a new prior subclasses it,
implements the private hooks, and is registered by one line
(`priors.register_prior`), after which configs can name it.

- `kl(posterior, beta, seed, training)`: the KL term of the training bound,
  [N] (Eq. 4, Eq. 5 or Sec. 5);
- `log_prob(z_groups)`: log p(z) of unrelaxed latents (binary, in the binary
  limit used for evaluation), [N];
- `sample(num_samples, seed)`: unrelaxed latents, a list of [n, units_i];
- `refresh_log_normalizer(...)`: recomputes log Z (exact or AIS) where the
  prior has one, stores it for `log_prob`, and returns a `LogNormalizer`.
"""

import dataclasses

import keras

from dvae_tf.math import smoothing as smoothing_lib
from dvae_tf.distributions.ais import PAPER_AIS_TEMPERATURES, PAPER_AIS_CHAINS

# The released code's persistent-chain settings (Appendix F notes): 1000
# chains, each advanced by 40 block Gibbs sweeps per training step.
RELEASED_NUM_CHAINS = 1000
RELEASED_NUM_GIBBS_SWEEPS = 40


@dataclasses.dataclass(frozen=True)
class LogNormalizer:
  """log Z of a prior with how it was obtained."""
  value: float
  stderr: float
  method: str


@dataclasses.dataclass(frozen=True)
class PriorSpec:
  """What a prior may be built from; each prior takes the parts it needs.

  Attributes:
    group_sizes: units per posterior group.
    smoothing: the `smoothing.Smoothing` of binary latents (None if the
      latents are continuous).
    objective: 'joint' (Eq. 4) or 'marginal' (Eq. 5), for directed priors.
    network: keyword arguments of `networks.mlp` for priors with networks
      p(z_i | zeta_<i) (num_hidden, hidden_units, activation, batch_norm).
    num_chains: persistent chains of an undirected prior.
    num_gibbs_sweeps: block Gibbs sweeps per training step of those chains.
    centered_inputs: networks of the prior read 2 zeta - 1
      (`latents.network_input`).
    graph: the `graphs.Graph` of a prior on a graph (its nodes are the
      units), or None.
  """
  group_sizes: tuple
  smoothing: object = None
  objective: str = 'joint'
  network: dict = dataclasses.field(default_factory=dict)
  num_chains: int = RELEASED_NUM_CHAINS
  num_gibbs_sweeps: int = RELEASED_NUM_GIBBS_SWEEPS
  centered_inputs: bool = False
  graph: object = None


class Prior(keras.layers.Layer):
  """p(z) over the global latent groups; see the module docstring.

  Class attributes a subclass may override:
    needs_posterior_logits: `kl` uses q(z | x, zeta) of the smoothing
      (`Smoothing.has_posterior_logits`), as the RBM's KL of Sec. 5 does.
    kl_is_log_ratio: `kl` is the single-sample log ratio
      log q(zeta) - log p(zeta) at the posterior's sample (Eq. 5), so k
      samples combine into an importance-weighted bound.
    uses_graph: the prior lives on a graph whose nodes are the latent units
      (`graphs`), which then sets the posterior's groups.
  """

  needs_posterior_logits = False
  kl_is_log_ratio = False
  uses_graph = False

  def __init__(self, group_sizes, smoothing=None, **kwargs):
    """Args: group_sizes: units per group; smoothing: see `PriorSpec`."""
    super().__init__(**kwargs)
    self.group_sizes = [int(g) for g in group_sizes]
    self.check_smoothing(smoothing)
    self.smoothing = smoothing

  @classmethod
  def check_smoothing(cls, smoothing):
    """ValueError unless the prior works with `smoothing` (or None)."""
    if cls.needs_posterior_logits and not (
        smoothing is not None and smoothing.has_posterior_logits):
      name = smoothing.name if smoothing is not None else None
      raise ValueError(
          f'The {cls.__name__} needs q(z | zeta) from the smoothing of '
          f'binary latents (Sec. 5); smoothing {name!r} does not provide it. '
          f'Use one of {smoothing_lib.with_posterior_logits()}.')

  @classmethod
  def from_spec(cls, spec):
    """The prior for a `PriorSpec`; override to read more of it."""
    return cls(spec.group_sizes, smoothing=spec.smoothing, name='prior')

  # The interface.

  def kl(self, posterior, beta, seed=None, training=False):
    """The KL term of the bound for a `posterior.PosteriorSample`, [N].

    Args:
      posterior: a relaxed sample of the hierarchical posterior.
      beta: inverse temperature of the smoothing.
      seed: stateless seed (for priors that sample, e.g. PCD chains).
      training: training mode (networks; an RBM advances its chains).
    """
    return self._kl(posterior, beta, seed, training)

  def log_prob(self, z_groups, training=False):
    """log p(z) of unrelaxed latents, a list of [N, units_i]; [N]."""
    return self._log_prob(list(z_groups), training)

  def sample(self, num_samples, seed):
    """Unrelaxed latents from the prior, a list of [num_samples, units_i]."""
    return self._sample(num_samples, seed)

  def refresh_log_normalizer(self, ais_chains=PAPER_AIS_CHAINS,
                             ais_temperatures=PAPER_AIS_TEMPERATURES,
                             seed=(0, 0)):
    """Recomputes log Z, stores it for `log_prob`, returns a `LogNormalizer`.

    Args:
      ais_chains, ais_temperatures: AIS settings where log Z is not exact.
      seed: AIS seed.
    """
    for name, value in (('ais_chains', ais_chains),
                        ('ais_temperatures', ais_temperatures)):
      if int(value) < 2:
        raise ValueError(f'{name} must be at least 2 (AIS needs two chains '
                         f'for a standard error and two temperatures); got '
                         f'{value}.')
    return self._refresh_log_normalizer(int(ais_chains),
                                        int(ais_temperatures), seed)

  @property
  def log_z(self):
    """The log Z that `log_prob` and `kl` use now (0 for a normalized prior)."""
    return 0.

  @property
  def sample_gibbs_sweeps(self):
    """Block Gibbs sweeps per `sample` call, or None (ancestral sampling)."""
    return None

  @property
  def xla_step_is_faster(self):
    """Whether what this prior adds to a training step leaves the step
    faster compiled by XLA than as a graph on CPUs
    (`DiscreteVAE.xla_step_is_faster`); yes for a prior that samples
    nothing in the step."""
    return True

  def gather_replica_state(self):
    """Makes every replica's copy of per-replica state whole before a save
    (replica context; `dvae_tf.distribute`). The RBM prior's persistent
    chains are such state; by default there is none."""

  def decayed_weights(self):
    """The prior's own weights under weight decay (besides network kernels)."""
    return []

  # The hooks.

  def _kl(self, posterior, beta, seed, training):
    raise NotImplementedError(f'{type(self).__name__} must implement _kl.')

  def _log_prob(self, z_groups, training):
    raise NotImplementedError(
        f'{type(self).__name__} must implement _log_prob.')

  def _sample(self, num_samples, seed):
    raise NotImplementedError(f'{type(self).__name__} must implement _sample.')

  def _refresh_log_normalizer(self, ais_chains, ais_temperatures, seed):
    """A normalized prior: log Z = 0."""
    del ais_chains, ais_temperatures, seed
    return LogNormalizer(0., 0., 'none (normalized prior)')

  def get_config(self):
    config = super().get_config()
    config.update(group_sizes=self.group_sizes)
    return config
