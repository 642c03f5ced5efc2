"""`TrainConfig`: how a model is trained, and the schedules it implies.

A run directory records it (`dvae_tf.run_directory`); `dvae_tf.training` and
Keras' own `model.fit` (`models.base.DiscreteVAE.compile`) train by it. At
step t of T = num_steps:

    beta_t = beta_start + (beta_end - beta_start) t / T   (Sec. 7.1),
    kl_weight_t = min(1, t / (kl_anneal_fraction T))     (KL warm-up),

and the learning rate follows `learning_rate_schedule`
(`schedules.LEARNING_RATE_SCHEDULES`) under Adam with epsilon 1e-3.
"""

import dataclasses

import numpy as np

from dvae_tf import data
from dvae_tf import optimizer as optimizer_lib
from dvae_tf import ranges
from dvae_tf import schedules

# Adam's epsilon in every run of the paper's code (and so of dvae_tf).
ADAM_EPSILON = 1e-3


@dataclasses.dataclass(frozen=True)
class TrainConfig:
  """How to train (defaults: Sec. 7.1 and the Appendix F notes).

  Attributes:
    dataset: a name from `dvae_tf.data.DATASETS`.
    num_steps: total training steps.
    batch_size: global batch size (split across replicas).
    learning_rate: base rate of Adam (epsilon 1e-3).
    learning_rate_schedule: a key of `schedules.LEARNING_RATE_SCHEDULES`:
      'piecewise' (the released code's decay, Table 2) or 'constant'
      (Table 1's protocol).
    beta_start, beta_end: inverse temperature, annealed linearly.
    kl_anneal_fraction: the KL weight rises from 0 to 1 over this fraction of
      training.
    weight_decay: coefficient of `model.weight_decay_loss()`.
    num_iw_train: samples per example in the training bound.
    seed: seeds initialization, data order and all sampling.
    checkpoint_every: steps between checkpoints.
    log_every: steps between TensorBoard scalars.
    image_every: steps between sample grids in TensorBoard (0: never).
    log_z_every: steps between refreshes of an RBM prior's log Z estimate
      (exact, or a quick AIS), which the monitored bound uses: between
      refreshes the displayed bound of an RBM model lags its log Z.
    validate_every: steps between scores of the validation split (0: never;
      also at the end): the importance-weighted bound with
      `validation_samples` samples on the first `validation_images` images
      (0: all); the best-scoring step is kept as the checkpoint 'best'.
    validation_samples: importance samples per validation image.
    validation_images: validation images scored (0: all).
    jit_compile: compile each replica's training step with XLA, Gibbs sweeps
      and Adam included (`training.step.make_train_step`; Keras' `fit` the
      same through `compile`); None (the default): where it was measured
      faster, the model's `xla_step_is_faster` (`compiles_with_xla`). How
      the step is computed, not what: a run may resume with the other
      setting (`run_directory.EXECUTION_FIELDS`).
  """
  dataset: str = 'sample'
  num_steps: int = 100_000
  batch_size: int = 100
  learning_rate: float = 3e-3
  learning_rate_schedule: str = 'piecewise'
  beta_start: float = 10.
  beta_end: float = 10.
  kl_anneal_fraction: float = 0.3
  weight_decay: float = 1e-4
  num_iw_train: int = 1
  seed: int = 0
  checkpoint_every: int = 1000
  log_every: int = 100
  image_every: int = 5000
  log_z_every: int = 5000
  validate_every: int = 0
  validation_samples: int = 100
  validation_images: int = 0
  jit_compile: bool | None = dataclasses.field(
      default=None, metadata={'flag_type': bool})

  def __post_init__(self):
    if self.dataset not in data.DATASETS:
      raise ValueError(f'dataset={self.dataset!r} is not one of '
                       f'{sorted(data.DATASETS)}.')
    for name in ('num_steps', 'batch_size', 'num_iw_train', 'checkpoint_every',
                 'log_every', 'validation_samples'):
      ranges.check_count(name, getattr(self, name))
    for name in ('validate_every', 'validation_images', 'image_every',
                 'log_z_every'):
      ranges.check_count(name, getattr(self, name), minimum=0)
    ranges.check_seed('seed', self.seed)
    self._check_step_rows()
    if self.learning_rate_schedule not in schedules.LEARNING_RATE_SCHEDULES:
      raise ValueError(
          f'learning_rate_schedule={self.learning_rate_schedule!r} is not one '
          f'of {sorted(schedules.LEARNING_RATE_SCHEDULES)}.')
    for name in ('learning_rate', 'beta_start', 'beta_end'):
      if not getattr(self, name) > 0:
        raise ValueError(f'{name} must be positive; got {getattr(self, name)}.')
    if not 0. <= self.kl_anneal_fraction <= 1.:
      raise ValueError(f'kl_anneal_fraction must lie in [0, 1]; got '
                       f'{self.kl_anneal_fraction}.')
    if not self.weight_decay >= 0.:
      raise ValueError(f'weight_decay must be >= 0; got {self.weight_decay}.')
    if self.jit_compile not in (None, True, False):
      raise ValueError(f'jit_compile must be True, False or None (where '
                       f'faster); got {self.jit_compile!r}.')

  def compiles_with_xla(self, model):
    """Whether `model`'s training step is one XLA computation: `jit_compile`,
    or where it is None, `model.xla_step_is_faster` (measured by
    `bin/benchmark.py --suites=presets`)."""
    if self.jit_compile is None:
      return bool(model.xla_step_is_faster)
    return self.jit_compile

  def _check_step_rows(self):
    """A step's batch_size * num_iw_train images (`DiscreteVAE.elbo` tiles
    each k times) must fit in one tensor, `ranges.MAX_INT32` values; whether
    they fit in memory is `training.memory`'s check."""
    pixels = int(np.prod(data.image_shape(self.dataset)))
    rows = self.batch_size * self.num_iw_train
    if rows * pixels > ranges.MAX_INT32:
      most = ranges.MAX_INT32 // (self.batch_size * pixels)
      raise ValueError(
          f'num_iw_train={self.num_iw_train} with batch_size='
          f'{self.batch_size} makes {rows} images of {pixels} pixels in one '
          f'step, more than a tensor holds ({ranges.MAX_INT32} values); ' +
          (f'use at most num_iw_train={most}.' if most else
           'lower batch_size.'))

  @property
  def warmup_steps(self):
    """Steps over which the KL weight rises from 0 to 1."""
    return int(self.kl_anneal_fraction * self.num_steps)

  def beta(self, step):
    """beta_t, the smoothing's inverse temperature at `step` (a tensor)."""
    return schedules.linear(step, self.beta_start, self.beta_end,
                            self.num_steps)

  def kl_weight(self, step):
    """kl_weight_t, the KL warm-up coefficient at `step` (a tensor)."""
    return schedules.kl_weight(step, self.warmup_steps)

  def make_optimizer(self):
    """Adam (one fused kernel per variable) on the learning-rate schedule."""
    return optimizer_lib.Adam(
        schedules.LEARNING_RATE_SCHEDULES[self.learning_rate_schedule](
            self.learning_rate, self.num_steps),
        epsilon=ADAM_EPSILON)
