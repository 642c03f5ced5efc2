"""Model configurations of both kinds, and the registries they name.

A config is plain data naming the objects a model is built from: what a model
directory records (config.json, with the config's `kind`) and what the
presets of `dvae_tf.presets` fill in. `ModelConfig` (kind 'feed_forward':
Secs. 4-5, Tables 1-2) and `DVAEppConfig` (kind 'dvaepp': Sec. 6, Table 3);
`MODEL_CONFIGS` maps each kind to its class, `config_from_dict` reads a
recorded dict back (one without `kind` is feed-forward, as written before
configs carried it), and `config.build(train_mean)` builds the model.

Configs name the pieces by their registries: priors (`priors.PRIORS`),
smoothings (`smoothing.SMOOTHINGS`), latent types (`latents.LATENT_TYPES`),
pixel likelihoods (`pixel_likelihoods.LIKELIHOODS`), and the structures,
architectures and Table 3 rows below. Every default is a field default here;
the binaries read their flag defaults from these classes.

The DVAE++ architectures (Appendix G, not available) are OUR CHOICES,
following the constraints of Sec. 7.3: one architecture for MNIST and
OMNIGLOT, a shallower one for Caltech-101 silhouettes (a small dataset that
is easily overfit), a wider one for CIFAR-10; 16 global binary units for
binary data and 128 for CIFAR-10; 16 local groups of 32 channels everywhere.
Images are padded to 32x32 (see `dvae_tf.networks.pyramid`), so for every
dataset the local latents live at 8x8 and the global posterior reads the 4x4
top of the encoder.
"""

import dataclasses

import numpy as np

from dvae_tf import graphs
from dvae_tf.math import latents as latents_lib
from dvae_tf import priors
from dvae_tf.math import smoothing as smoothing_lib
from dvae_tf.models import pixel_likelihoods
from dvae_tf.models.base import DiscreteVAE
from dvae_tf.models.dvaepp import DVAEpp
from dvae_tf.models.feed_forward import FeedForwardDVAE
from dvae_tf.priors.factorial_prior import OBJECTIVES
from dvae_tf.networks.pyramid import DOWNSAMPLINGS


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
  """cls(**d), with a ValueError naming the fields `cls` does not have.

  Keys named in `cls.RENAMED_FIELDS` (old name: new name) are read under
  their new names, so records written before a rename still load.
  """
  renamed = getattr(cls, 'RENAMED_FIELDS', {})
  d = {renamed.get(key, key): value for key, value in d.items()}
  fields = {f.name for f in dataclasses.fields(cls)}
  unknown = set(d) - fields
  if unknown:
    raise ValueError(f'{cls.__name__}: unknown fields {sorted(unknown)}.')
  return cls(**d)


def check_prior_and_smoothing(prior, smoothing):
  """ValueError unless prior `prior` works with smoothing `smoothing`."""
  priors.PRIORS[prior].check_smoothing(
      smoothing_lib.get_smoothing(smoothing) if smoothing else None)


# Feed-forward models (Secs. 4, 5, 7.1, 7.2).

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


# The most Gibbs sweeps per training step: 250 times the paper's 40, where a
# step of the Table 2 model takes minutes on a CPU.
MAX_GIBBS_SWEEPS = 10_000


@dataclasses.dataclass(frozen=True)
class BoltzmannSettings:
  """The graph of a Boltzmann prior and its persistent chains (Sec. 5).

  Both model configs take these fields; they are unused by priors without
  a graph or chains.

  Attributes:
    num_chains: persistent chains of the Boltzmann (RBM) prior.
    num_gibbs_sweeps: Gibbs sweeps per training step for the chains.
    graph: the Boltzmann prior's graph, whose nodes are the latent units:
      bipartite (the paper's RBM over the structure's units), chimera:M,
      pegasus:M, zephyr:M (dwave-graphs), FAMILY:ARGS of a registered
      family, or FILE.json (an edge list); recorded with its nodes, edges
      and colouring.
  """
  num_chains: int = priors.RELEASED_NUM_CHAINS
  num_gibbs_sweeps: int = priors.RELEASED_NUM_GIBBS_SWEEPS
  graph: str = graphs.DEFAULT_GRAPH

  def __post_init__(self):
    check_positive(self, ('num_chains', 'num_gibbs_sweeps'))
    if self.num_gibbs_sweeps > MAX_GIBBS_SWEEPS:
      raise ValueError(
          f'num_gibbs_sweeps={self.num_gibbs_sweeps} is more than '
          f'{MAX_GIBBS_SWEEPS} sweeps per training step (the paper takes 40; '
          'a step would take hours); use at most '
          f'num_gibbs_sweeps={MAX_GIBBS_SWEEPS}.')

  def to_dict(self):
    """The record config.json keeps (`from_dict` reads it back)."""
    return dataclasses.asdict(self)

  @classmethod
  def from_dict(cls, d):
    return dataclass_from_dict(cls, d)

  def resolve_graph(self, prior):
    """Replaces the `graph` spec by its record (`priors.resolve_graph`)."""
    object.__setattr__(self, 'graph', priors.resolve_graph(prior, self.graph))

  def prior_layout(self, prior, group_sizes):
    """(group sizes, graph) of `prior` over the units (`priors.layout`)."""
    return priors.layout(prior, group_sizes, self.graph)

  def prior_spec(self, group_sizes, graph, **fields):
    """The `priors.PriorSpec` with these chains and this graph."""
    return priors.PriorSpec(
        group_sizes=tuple(group_sizes), graph=graph,
        num_chains=self.num_chains, num_gibbs_sweeps=self.num_gibbs_sweeps,
        **fields)


@dataclasses.dataclass(frozen=True)
class ModelConfig(BoltzmannSettings):
  """Everything needed to rebuild a feed-forward model.

  Attributes:
    kind: always 'feed_forward'; tells config.json's readers the model kind.
    struct: the networks: a key of `STRUCTURES` for the feed-forward model
      ('1-layer-nonlin', ...), of `ARCHITECTURES` for DVAE++ ('mnist',
      'cpu', ...).
    prior: a key of `priors.PRIORS` ('factorial', Sec. 4; 'rbm', Sec. 5;
      'boltzmann', a Boltzmann machine on `graph`).
    smoothing: a key of `smoothing.SMOOTHINGS`.
    objective: 'joint' (Eq. 4) or 'marginal' (Eq. 5); factorial prior only.
    batch_norm: batch normalization in hidden layers.
    units_per_group: override the structure's units per group (tests, demos).
    hidden_units: override the width of hidden layers.
    centered_latents: networks read sampled latents as 2 zeta - 1, as in
      Tucker et al.'s protocol that Table 1 follows.
  """
  kind: str = 'feed_forward'
  struct: str = '1-layer-nonlin'
  prior: str = 'factorial'
  smoothing: str = 'exponential'
  objective: str = 'joint'
  batch_norm: bool = False
  units_per_group: int = 0
  hidden_units: int = 0
  centered_latents: bool = False

  def __post_init__(self):
    super().__post_init__()
    check_kind(self, 'feed_forward')
    check_choice('struct', self.struct, STRUCTURES)
    object.__setattr__(self, 'prior', priors.canonical_name(self.prior))
    check_choice('smoothing', self.smoothing, smoothing_lib.SMOOTHINGS)
    check_choice('objective', self.objective, OBJECTIVES)
    check_prior_and_smoothing(self.prior, self.smoothing)
    self.resolve_graph(self.prior)

  @property
  def structure(self):
    s = STRUCTURES[self.struct]
    return dataclasses.replace(
        s, batch_norm=self.batch_norm,
        units_per_group=self.units_per_group or s.units_per_group,
        hidden_units=self.hidden_units or s.hidden_units)

  def check_dataset(self, binary):
    """ValueError unless the pixels are binary (the Bernoulli decoder's)."""
    if not binary:
      raise ValueError('The feed-forward model has a Bernoulli decoder and '
                       'needs binary images; use --model=dvaepp with '
                       "likelihood='logistic_mixture' for 8-bit data.")

  def build(self, train_mean):
    """The `FeedForwardDVAE` this config describes, for a mean [H, W, C]."""
    structure = self.structure
    smoothing = smoothing_lib.get_smoothing(self.smoothing)
    group_sizes, graph = self.prior_layout(self.prior, structure.group_sizes)
    spec = self.prior_spec(
        group_sizes, graph, smoothing=smoothing, objective=self.objective,
        network=dict(num_hidden=structure.num_hidden,
                     hidden_units=structure.hidden_units,
                     activation=structure.activation,
                     batch_norm=structure.batch_norm),
        centered_inputs=self.centered_latents)
    return FeedForwardDVAE(
        structure, priors.build_prior(self.prior, spec),
        latents_lib.SmoothedBinary(smoothing, centered=self.centered_latents),
        train_mean)

# DVAE++ (Sec. 6, Table 3).

@dataclasses.dataclass(frozen=True)
class Architecture:
  """Widths and depths of the DVAE++ networks (our Appendix G).

  With P the padded image side (32), the encoder has stages at P, P/2, P/4
  (the local latents' scale) and P/8 (the top); the decoder lifts the global
  zeta from P/8 to P/4, runs the local groups there, and scales up to P.

  Attributes:
    channels: widths of the stages at (P, P/2, P/4, P/8), shared by the
      encoder and the decoder; the local groups and their networks use the
      P/4 width, the likelihood heads the P width.
    blocks_per_stage: residual blocks per stage (the first of a stage
      resamples).
    num_global_units: binary (or Normal) global units, z = [z1, z2].
    num_local_groups: groups h_j of local latents (autoregressive).
    local_channels: variables per location of each local group.
    fc_units: hidden units of the fully connected networks of the global
      posterior q(z_i | x, zeta_<i) (one hidden layer, swish).
    se_reduction: squeeze-and-excitation bottleneck reduction.
    num_mixtures: components of the discretized logistic mixture (colour).
  """
  channels: tuple
  blocks_per_stage: int
  num_global_units: int = 16
  num_local_groups: int = 16
  local_channels: int = 32
  fc_units: int = 256
  se_reduction: int = 16
  num_mixtures: int = 10


ARCHITECTURES = {
    # MNIST (static and dynamic) and OMNIGLOT.
    'mnist': Architecture(channels=(32, 64, 64, 64), blocks_per_stage=2),
    # Caltech-101 silhouettes: one block per stage, narrower at full size.
    'caltech': Architecture(channels=(16, 32, 64, 64), blocks_per_stage=1),
    # CIFAR-10: twice as wide, 128 global units, a wider global posterior.
    'cifar': Architecture(channels=(64, 128, 128, 128), blocks_per_stage=2,
                          num_global_units=128, fc_units=512),
    # Reduced width for two CPU cores: same latents, a quarter of the width
    # and one block per stage.
    'cpu': Architecture(channels=(8, 16, 16, 16), blocks_per_stage=1,
                        fc_units=64),
}


@dataclasses.dataclass(frozen=True)
class LatentTypes:
  """A row of Table 3: the global prior, its smoothing, the latent types.

  Attributes:
    prior: a key of `priors.PRIORS`: 'rbm' (Sec. 5), 'factorial' (directed,
      with the marginal ELBO of Sec. 4.2) or 'normal' (N(0, I)).
    smoothing: a key of `smoothing.SMOOTHINGS` for binary latents (global
      and, if binary, local); None when nothing is binary.
    global_latent: a key of `latents.LATENT_TYPES` for the global groups.
    local: a key of `latents.LATENT_TYPES` for the local groups ('bernoulli'
      ones are relaxed by `smoothing`, with the marginal KL).
  """
  prior: str
  smoothing: str | None
  global_latent: str
  local: str


TABLE3_ROWS = {
    'all_continuous': LatentTypes('normal', None, 'normal', 'normal'),
    'rbm_rolfe': LatentTypes('rbm', 'spike_exp', 'bernoulli', 'normal'),
    'dvaepp': LatentTypes('rbm', 'exponential', 'bernoulli', 'normal'),
    'rbm_bernoulli': LatentTypes('rbm', 'exponential', 'bernoulli',
                                 'bernoulli'),
    'bernoulli_bernoulli': LatentTypes('factorial', 'exponential', 'bernoulli',
                                       'bernoulli'),
}

GLOBAL_GROUPS = (1, 2, 4)

@dataclasses.dataclass(frozen=True)
class DVAEppConfig(BoltzmannSettings):
  """Everything needed to rebuild a DVAE++ model.

  Attributes:
    kind: always 'dvaepp'; tells config.json's readers the model kind.
    struct: the networks, a key of `ARCHITECTURES` (records written before
      the feed-forward and DVAE++ configs shared the name call it `arch`).
    latents: a key of `TABLE3_ROWS`.
    global_groups: groups of the hierarchical global posterior (1, 2, 4;
      cross-validated in Sec. 7.3).
    conditional_decoder: the multi-scale decoder (4x4 up to full size);
      False for the factorial "unconditional decoder" of the MNIST rows.
    downsampling: of the scale pyramid, 'pool' or 'subsample'
      (`dvae_tf.networks.pyramid`).
    likelihood: 'bernoulli' (binary images) or 'logistic_mixture' (8-bit).
    kl_balancing: balance the local groups' KLs during warm-up
      (`dvae_tf.networks.kl_balancing`, our Appendix H).
    channels: if > 0, every stage gets this width (tests, benchmarks).
    num_local_groups: if > 0, overrides the architecture's.
  """
  RENAMED_FIELDS = {'arch': 'struct'}

  kind: str = 'dvaepp'
  struct: str = 'mnist'
  latents: str = 'dvaepp'
  global_groups: int = 2
  conditional_decoder: bool = False
  downsampling: str = 'pool'
  likelihood: str = 'bernoulli'
  kl_balancing: bool = True
  channels: int = 0
  num_local_groups: int = 0

  def __post_init__(self):
    super().__post_init__()
    check_kind(self, 'dvaepp')
    check_choice('struct', self.struct, ARCHITECTURES)
    check_choice('latents', self.latents, TABLE3_ROWS)
    check_choice('global_groups', self.global_groups, GLOBAL_GROUPS)
    check_choice('downsampling', self.downsampling, DOWNSAMPLINGS)
    check_choice('likelihood', self.likelihood, pixel_likelihoods.LIKELIHOODS)
    types = self.latent_types
    check_prior_and_smoothing(types.prior, types.smoothing)
    self.resolve_graph(types.prior)
    for name in ('channels', 'num_local_groups'):
      if getattr(self, name) < 0:
        raise ValueError(f'{name} must be >= 0 (0: the architecture\'s); got '
                         f'{getattr(self, name)}.')
    units = self.architecture.num_global_units
    if units % self.global_groups:
      raise ValueError(f'global_groups={self.global_groups} does not divide '
                       f'the {units} global units of struct={self.struct!r}.')
    self.layout()  # a graph whose classes cannot form the groups fails here

  @property
  def architecture(self):
    """The `Architecture` with this config's overrides."""
    arch = ARCHITECTURES[self.struct]
    return dataclasses.replace(
        arch,
        channels=((self.channels,) * len(arch.channels) if self.channels
                  else arch.channels),
        num_local_groups=self.num_local_groups or arch.num_local_groups)

  @property
  def latent_types(self):
    return TABLE3_ROWS[self.latents]

  def layout(self):
    """(units per global posterior group, the prior's graph or None): the
    architecture's global units, or a graph prior's nodes."""
    units = self.architecture.num_global_units
    return self.prior_layout(self.latent_types.prior,
                             [units // self.global_groups] * self.global_groups)

  @property
  def group_sizes(self):
    """Units per global posterior group."""
    return self.layout()[0]

  def check_dataset(self, binary):
    """ValueError unless `likelihood` fits binary (or 8-bit) pixels."""
    expected = 'bernoulli' if binary else 'logistic_mixture'
    if self.likelihood != expected:
      raise ValueError(
          f'likelihood={self.likelihood!r} does not fit a dataset with '
          f'{"binary" if binary else "8-bit"} pixels; use {expected!r}.')

  def build(self, train_mean):
    """The `DVAEpp` this config describes, for a training mean [H, W, C]."""
    arch = self.architecture
    types = self.latent_types
    smoothing = (smoothing_lib.get_smoothing(types.smoothing)
                 if types.smoothing else None)
    spec = self.prior_spec(
        *self.layout(), smoothing=smoothing, objective='marginal',
        network=dict(num_hidden=1, hidden_units=arch.fc_units,
                     activation='swish'))
    return DVAEpp(
        architecture=arch,
        prior=priors.build_prior(types.prior, spec),
        global_latent=latents_lib.get_latent_type(types.global_latent,
                                                  smoothing),
        local_latent=latents_lib.get_latent_type(types.local, smoothing),
        likelihood=pixel_likelihoods.get_pixel_likelihood(
            self.likelihood, arch.num_mixtures),
        train_mean=train_mean,
        conditional_decoder=self.conditional_decoder,
        downsampling=self.downsampling,
        kl_balancing=self.kl_balancing)

# Both kinds.

MODEL_CONFIGS = {'feed_forward': ModelConfig, 'dvaepp': DVAEppConfig}
MODEL_KINDS = tuple(MODEL_CONFIGS)


def check_kind(config, kind):
  """ValueError unless `config.kind` is `kind`."""
  if config.kind != kind:
    raise ValueError(f'{type(config).__name__}: kind must be {kind!r}; got '
                     f'{config.kind!r}.')


def config_class(kind):
  """The config class of a model kind (a key of `MODEL_CONFIGS`)."""
  check_choice('model', kind, MODEL_CONFIGS)
  return MODEL_CONFIGS[kind]


def config_from_dict(d):
  """The model config recorded in a config.json, of either kind."""
  return config_class(d.get('kind', 'feed_forward')).from_dict(d)


def model_from_record(record):
  """The model a `DiscreteVAE.get_config()` record describes (unbuilt)."""
  return build_model(config_from_dict(record['model_config']),
                     np.asarray(record['train_mean'], np.float32),
                     record.get('binary'))


DiscreteVAE.model_from_record = staticmethod(model_from_record)


def build_model(config, train_mean, binary=None):
  """The model `config` describes, for data with `train_mean` [H, W, C].

  Args:
    config: a model config of either kind.
    train_mean: the mean training image in [0, 1].
    binary: whether the dataset's pixels are binary, if known; checked
      against the model's likelihood.
  """
  if binary is not None:
    config.check_dataset(binary)
  model = config.build(train_mean)
  model.set_build_record(config.to_dict(), train_mean, binary)
  return model
