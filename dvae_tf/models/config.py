"""Model configurations: plain data that names the objects a model is built from.

A `ModelConfig` is what a model directory records (config.json) and what the
presets of `dvae_tf.presets` fill in; `build_model` turns it into the objects
(structure, smoothing, prior) that `FeedForwardDVAE` takes.
"""

import dataclasses

from dvae_tf import priors
from dvae_tf import smoothing as smoothing_lib


@dataclasses.dataclass(frozen=True)
class Structure:
  """Latent groups and network depth (Sec. 7.1; Appendix F notes).

  Attributes:
    num_groups: groups of the hierarchical posterior (1, 2 or 4).
    units_per_group: binary units per group (200; 100 for 4 groups).
    num_hidden: hidden layers per network (0: linear, 2: nonlinear).
    hidden_units: width of hidden layers.
    activation: hidden nonlinearity.
    batch_norm: batch normalization in the hidden layers.
  """
  num_groups: int
  units_per_group: int
  num_hidden: int
  hidden_units: int = 200
  activation: str = 'tanh'
  batch_norm: bool = False

  @property
  def group_sizes(self):
    return [self.units_per_group] * self.num_groups


STRUCTURES = {
    '1-layer-lin': Structure(1, 200, 0),
    '1-layer-nonlin': Structure(1, 200, 2),
    '2-layer-lin': Structure(2, 200, 0),
    '2-layer-nonlin': Structure(2, 200, 2),
    '4-layer-nonlin': Structure(4, 100, 2),
}

PRIORS = ('factorial', 'rbm')
OBJECTIVES = ('joint', 'marginal')


@dataclasses.dataclass(frozen=True)
class ModelConfig:
  """Everything needed to rebuild a feed-forward model.

  Attributes:
    struct: a key of `STRUCTURES`.
    prior: 'factorial' (Sec. 4) or 'rbm' (Sec. 5).
    smoothing: a key of `smoothing.SMOOTHINGS`.
    objective: 'joint' (Eq. 4) or 'marginal' (Eq. 5); factorial prior only.
    batch_norm: batch normalization in hidden layers.
    units_per_group: override the structure's units per group (tests, demos).
    hidden_units: override the width of hidden layers.
    num_chains: persistent chains of the RBM prior.
    num_gibbs_sweeps: Gibbs sweeps per training step for the chains.
  """
  struct: str = '1-layer-nonlin'
  prior: str = 'factorial'
  smoothing: str = 'exponential'
  objective: str = 'joint'
  batch_norm: bool = False
  units_per_group: int = 0
  hidden_units: int = 0
  num_chains: int = 1000
  num_gibbs_sweeps: int = 40

  def __post_init__(self):
    _check_choice('struct', self.struct, STRUCTURES)
    _check_choice('prior', self.prior, PRIORS)
    _check_choice('smoothing', self.smoothing, smoothing_lib.SMOOTHINGS)
    _check_choice('objective', self.objective, OBJECTIVES)
    if self.prior == 'rbm' and self.smoothing == 'concrete':
      raise ValueError('prior=rbm needs q(z | zeta) (Sec. 5), which Concrete '
                       'smoothing does not have; use exponential, logistic, '
                       'power or spike_exp.')
    for name in ('num_chains', 'num_gibbs_sweeps'):
      if getattr(self, name) < 1:
        raise ValueError(f'{name} must be a positive integer; got '
                         f'{getattr(self, name)}.')

  @property
  def structure(self):
    s = STRUCTURES[self.struct]
    return dataclasses.replace(
        s, batch_norm=self.batch_norm,
        units_per_group=self.units_per_group or s.units_per_group,
        hidden_units=self.hidden_units or s.hidden_units)

  def to_dict(self):
    return dataclasses.asdict(self)

  @classmethod
  def from_dict(cls, d):
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = set(d) - fields
    if unknown:
      raise ValueError(f'ModelConfig: unknown fields {sorted(unknown)}.')
    return cls(**d)


def _check_choice(name, value, choices):
  if value not in choices:
    raise ValueError(f'{name}={value!r} is not one of {sorted(choices)}.')


def build_prior(config):
  """The prior layer a `ModelConfig` names."""
  structure = config.structure
  if config.prior == 'rbm':
    return priors.RBMPrior(structure.group_sizes, num_chains=config.num_chains,
                           num_gibbs_sweeps=config.num_gibbs_sweeps,
                           name='prior')
  return priors.FactorialPrior(
      structure.group_sizes, num_hidden=structure.num_hidden,
      hidden_units=structure.hidden_units, activation=structure.activation,
      batch_norm=structure.batch_norm,
      marginal=config.objective == 'marginal', name='prior')


def build_model(config, train_mean):
  """The `FeedForwardDVAE` described by `config`, for data with `train_mean`."""
  from dvae_tf.models.feed_forward import FeedForwardDVAE  # pylint: disable=g-import-not-at-top
  return FeedForwardDVAE(config.structure, build_prior(config),
                         smoothing_lib.get_smoothing(config.smoothing),
                         train_mean)
