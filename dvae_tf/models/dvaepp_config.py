"""DVAE++ configurations: architectures (Appendix G), Table 3's latent types.

`DVAEppConfig` is what a DVAE++ model directory records (config.json, with
`kind: "dvaepp"`) and what the Table 3 presets of `dvae_tf.presets` fill in;
`build_dvaepp` turns it into a `DVAEpp`.

Appendix G (the exact widths and depths) is not available. The numbers of
`ARCHITECTURES` are OUR CHOICES, following the constraints of Sec. 7.3: one
architecture for MNIST and OMNIGLOT, a shallower one for Caltech-101
silhouettes (a small dataset that is easily overfit), a wider one for
CIFAR-10; 16 global binary units for binary data and 128 for CIFAR-10; 16
local groups of 32 channels everywhere. Images are padded to 32x32 (see
`dvae_tf.pyramid`), so for every dataset the local latents live at 8x8 and the
global posterior reads the 4x4 top of the encoder.
"""

import dataclasses

from dvae_tf import latents
from dvae_tf import priors
from dvae_tf import smoothing as smoothing_lib
from dvae_tf.models import pixel_likelihoods
from dvae_tf.models.config import check_choice, check_positive
from dvae_tf.models.config import dataclass_from_dict
from dvae_tf.pyramid import DOWNSAMPLINGS


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
  """A row of Table 3: the global prior, its smoothing, the local type.

  Attributes:
    global_prior: 'rbm' (Sec. 5), 'bernoulli' (directed factorial prior with
      the marginal ELBO of Sec. 4.2) or 'normal' (N(0, I)).
    smoothing: a key of `smoothing.SMOOTHINGS` for binary latents (global
      and, if Bernoulli, local); None when nothing is binary.
    local: 'normal' or 'bernoulli' (relaxed by `smoothing`, marginal KL).
  """
  global_prior: str
  smoothing: str | None
  local: str


TABLE3_ROWS = {
    'all_continuous': LatentTypes('normal', None, 'normal'),
    'rbm_rolfe': LatentTypes('rbm', 'spike_exp', 'normal'),
    'dvaepp': LatentTypes('rbm', 'exponential', 'normal'),
    'rbm_bernoulli': LatentTypes('rbm', 'exponential', 'bernoulli'),
    'bernoulli_bernoulli': LatentTypes('bernoulli', 'exponential',
                                       'bernoulli'),
}

GLOBAL_GROUPS = (1, 2, 4)


@dataclasses.dataclass(frozen=True)
class DVAEppConfig:
  """Everything needed to rebuild a DVAE++ model.

  Attributes:
    kind: always 'dvaepp'; tells config.json's readers the model kind.
    arch: a key of `ARCHITECTURES`.
    latents: a key of `TABLE3_ROWS`.
    global_groups: groups of the hierarchical global posterior (1, 2, 4;
      cross-validated in Sec. 7.3).
    conditional_decoder: the multi-scale decoder (4x4 up to full size);
      False for the factorial "unconditional decoder" of the MNIST rows.
    downsampling: of the scale pyramid, 'pool' or 'subsample'
      (`dvae_tf.pyramid`).
    likelihood: 'bernoulli' (binary images) or 'logistic_mixture' (8-bit).
    kl_balancing: balance the local groups' KLs during warm-up
      (`dvae_tf.kl_balancing`, our Appendix H).
    channels: if > 0, every stage gets this width (tests, benchmarks).
    num_local_groups: if > 0, overrides the architecture's.
    num_chains: persistent chains of the RBM prior.
    num_gibbs_sweeps: Gibbs sweeps per training step for the chains.
  """
  kind: str = 'dvaepp'
  arch: str = 'mnist'
  latents: str = 'dvaepp'
  global_groups: int = 2
  conditional_decoder: bool = False
  downsampling: str = 'pool'
  likelihood: str = 'bernoulli'
  kl_balancing: bool = True
  channels: int = 0
  num_local_groups: int = 0
  num_chains: int = 1000
  num_gibbs_sweeps: int = 40

  def __post_init__(self):
    if self.kind != 'dvaepp':
      raise ValueError(f"DVAEppConfig: kind must be 'dvaepp'; got "
                       f'{self.kind!r}.')
    check_choice('arch', self.arch, ARCHITECTURES)
    check_choice('latents', self.latents, TABLE3_ROWS)
    check_choice('global_groups', self.global_groups, GLOBAL_GROUPS)
    check_choice('downsampling', self.downsampling, DOWNSAMPLINGS)
    check_choice('likelihood', self.likelihood, pixel_likelihoods.LIKELIHOODS)
    check_positive(self, ('num_chains', 'num_gibbs_sweeps'))
    for name in ('channels', 'num_local_groups'):
      if getattr(self, name) < 0:
        raise ValueError(f'{name} must be >= 0 (0: the architecture\'s); got '
                         f'{getattr(self, name)}.')
    units = self.architecture.num_global_units
    if units % self.global_groups:
      raise ValueError(f'global_groups={self.global_groups} does not divide '
                       f'the {units} global units of arch={self.arch!r}.')

  @property
  def architecture(self):
    """The `Architecture` with this config's overrides."""
    arch = ARCHITECTURES[self.arch]
    return dataclasses.replace(
        arch,
        channels=((self.channels,) * len(arch.channels) if self.channels
                  else arch.channels),
        num_local_groups=self.num_local_groups or arch.num_local_groups)

  @property
  def latent_types(self):
    return TABLE3_ROWS[self.latents]

  @property
  def group_sizes(self):
    """Units per global posterior group."""
    units = self.architecture.num_global_units
    return [units // self.global_groups] * self.global_groups

  def check_dataset(self, binary):
    """ValueError unless `likelihood` fits binary (or 8-bit) pixels."""
    expected = 'bernoulli' if binary else 'logistic_mixture'
    if self.likelihood != expected:
      raise ValueError(
          f'likelihood={self.likelihood!r} does not fit a dataset with '
          f'{"binary" if binary else "8-bit"} pixels; use {expected!r}.')

  def to_dict(self):
    return dataclasses.asdict(self)

  @classmethod
  def from_dict(cls, d):
    return dataclass_from_dict(cls, d)


def build_global_prior(config):
  """The prior over the global latents that `config.latents` names."""
  arch = config.architecture
  kind = config.latent_types.global_prior
  if kind == 'rbm':
    return priors.RBMPrior(config.group_sizes, num_chains=config.num_chains,
                           num_gibbs_sweeps=config.num_gibbs_sweeps,
                           name='prior')
  if kind == 'bernoulli':
    return priors.FactorialPrior(config.group_sizes, num_hidden=1,
                                 hidden_units=arch.fc_units,
                                 activation='swish', marginal=True,
                                 name='prior')
  return priors.NormalPrior(config.group_sizes, name='prior')


def build_dvaepp(config, train_mean):
  """The `DVAEpp` that `config` describes, for a training mean [H, W, C]."""
  from dvae_tf.models.dvaepp import DVAEpp  # pylint: disable=g-import-not-at-top
  types = config.latent_types
  smoothing = (smoothing_lib.get_smoothing(types.smoothing)
               if types.smoothing else None)
  binary = (latents.SmoothedBinary(smoothing) if smoothing else None)
  return DVAEpp(
      architecture=config.architecture,
      prior=build_global_prior(config),
      global_latent=binary if types.global_prior != 'normal'
      else latents.Normal(),
      local_latent=binary if types.local == 'bernoulli' else latents.Normal(),
      likelihood=pixel_likelihoods.get_pixel_likelihood(
          config.likelihood, config.architecture.num_mixtures),
      train_mean=train_mean,
      group_sizes=config.group_sizes,
      conditional_decoder=config.conditional_decoder,
      downsampling=config.downsampling,
      kl_balancing=config.kl_balancing)
