"""Model configurations: plain data that names the objects a model is built from.

A `ModelConfig` (feed-forward) or a `dvaepp_config.DVAEppConfig` (DVAE++) is
what a model directory records (config.json) and what the presets of
`dvae_tf.presets` fill in; `build_model` turns it into the model, and
`config_from_dict` reads either kind back: a recorded dict with
`kind: "dvaepp"` is DVAE++, one without `kind` is feed-forward.
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
    check_choice('struct', self.struct, STRUCTURES)
    check_choice('prior', self.prior, PRIORS)
    check_choice('smoothing', self.smoothing, smoothing_lib.SMOOTHINGS)
    check_choice('objective', self.objective, OBJECTIVES)
    if self.prior == 'rbm' and self.smoothing == 'concrete':
      raise ValueError('prior=rbm needs q(z | zeta) (Sec. 5), which Concrete '
                       'smoothing does not have; use exponential, logistic, '
                       'power or spike_exp.')
    check_positive(self, ('num_chains', 'num_gibbs_sweeps'))

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
    return dataclass_from_dict(cls, d)


def check_choice(name, value, choices):
  """ValueError naming `name` unless `value` is one of `choices`."""
  if value not in choices:
    raise ValueError(f'{name}={value!r} is not one of {sorted(choices)}.')


def check_positive(config, names):
  """ValueError unless the fields `names` of `config` are positive integers."""
  for name in names:
    if getattr(config, name) < 1:
      raise ValueError(f'{name} must be a positive integer; got '
                       f'{getattr(config, name)}.')


def dataclass_from_dict(cls, d):
  """cls(**d), with a ValueError naming the fields `cls` does not have."""
  fields = {f.name for f in dataclasses.fields(cls)}
  unknown = set(d) - fields
  if unknown:
    raise ValueError(f'{cls.__name__}: unknown fields {sorted(unknown)}.')
  return cls(**d)


MODEL_KINDS = ('feed_forward', 'dvaepp')


def config_class(kind):
  """The config class of a model kind ('feed_forward' or 'dvaepp')."""
  check_choice('model', kind, MODEL_KINDS)
  if kind == 'dvaepp':
    from dvae_tf.models import dvaepp_config  # pylint: disable=g-import-not-at-top
    return dvaepp_config.DVAEppConfig
  return ModelConfig


def config_from_dict(d):
  """The model config recorded in a config.json, of either kind."""
  return config_class(d.get('kind', 'feed_forward')).from_dict(d)


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


def build_model(config, train_mean, binary=None):
  """The model described by `config`, for data with `train_mean` [H, W, C].

  Args:
    config: a `ModelConfig` (a `FeedForwardDVAE`) or a `DVAEppConfig` (a
      `DVAEpp`).
    train_mean: the mean training image in [0, 1].
    binary: whether the dataset's pixels are binary, if known; a DVAE++
      config checks that its likelihood fits.
  """
  if getattr(config, 'kind', 'feed_forward') == 'dvaepp':
    from dvae_tf.models import dvaepp_config  # pylint: disable=g-import-not-at-top
    if binary is not None:
      config.check_dataset(binary)
    return dvaepp_config.build_dvaepp(config, train_mean)
  from dvae_tf.models.feed_forward import FeedForwardDVAE  # pylint: disable=g-import-not-at-top
  return FeedForwardDVAE(config.structure, build_prior(config),
                         smoothing_lib.get_smoothing(config.smoothing),
                         train_mean)
