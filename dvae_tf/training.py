"""Training: a `tf.function` step under a `tf.distribute` strategy, checkpointed.

`train(model_config, train_config, model_dir)` trains the model a config
describes on its dataset and leaves in `model_dir`:

- `config.json`: the model and training configurations (what `evaluate`,
  `sample` and `export` rebuild the model from);
- `train_mean.npy`: the training set's mean image (the decoder bias's
  initial value), so that a trained model restores without its data;
- `checkpoints/`: the latest checkpoints (model, optimizer and step; the RBM
  prior's persistent chains are model weights), written every
  `checkpoint_every` steps, at the end, and on SIGINT/SIGTERM;
- `train/`: TensorBoard scalars and sample grids.

Rerunning the same call resumes from the newest readable checkpoint: the
step count, the schedules (functions of the step) and the input order (keyed
by step) continue exactly, so at most the steps after the last checkpoint are
redone. The run directory is kept consistent through faults
(`dvae_tf.run_dir`): one training at a time holds its lock; it must be
writable before training starts; config.json is written, atomically, only
once the run is known to match its checkpoints; a checkpoint that does not
read back is set aside with a warning and the one before it used; a failed
save stops training with `CheckpointSaveError`, keeping the previous one.

Training stops with `TrainingDivergedError`, before anything is saved after
the bad step, when the loss becomes NaN or infinite; when the update leaves
a NaN or an infinity in any variable a checkpoint holds (model weights,
persistent chains, optimizer slots; checked after every step and again
before every save); when a batch holds pixels outside the dataset's range;
when the monitored bound collapses: falls below `COLLAPSE_FACTOR` times the
bound of a model that ignores its latents (`reference_bound`); or when it is
positive on binary pixels, which no model can reach (log p(x) <= 0), even
after refreshing a stale log Z. So every checkpoint kept holds finite
values, the error names the newest one, and rerunning resumes from it.
"""

import dataclasses
import json
import os
import re
import signal
import sys
import time

import keras
import numpy as np
import tensorflow as tf

from dvae_tf import data
from dvae_tf import distribute
from dvae_tf import images
from dvae_tf import optimizer as optimizer_lib
from dvae_tf import ranges
from dvae_tf import run_dir
from dvae_tf import schedules
from dvae_tf import validation
from dvae_tf.models import config as config_lib

CONFIG_FILE = 'config.json'
TRAIN_MEAN_FILE = 'train_mean.npy'
# The quick AIS of the log Z refreshes during training (monitoring only;
# evaluation and export use the paper's settings).
MONITOR_AIS_CHAINS = 100
MONITOR_AIS_BETAS = 300
# Training stops when the bound falls below this multiple of
# `reference_bound` (both negative).
COLLAPSE_FACTOR = 10.
# TrainConfig fields that may change on resume with `change_optimizer=True`.
OPTIMIZER_FIELDS = ('learning_rate',)


class TrainingDivergedError(RuntimeError):
  """The loss or a variable became NaN or infinite, a batch was out of
  range, or the bound collapsed or left what the data allow."""


class CheckpointSaveError(RuntimeError):
  """A checkpoint could not be written (disk full, read-only, ...)."""


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


def run_record(model_config, train_config):
  """What config.json holds: {'model': {...}, 'train': {...}}."""
  return {'model': model_config.to_dict(),
          'train': dataclasses.asdict(train_config)}


def check_run_config(model_dir, model_config, train_config,
                     change_optimizer=False):
  """Checks a run against the record of `model_dir`; writes nothing.

  A recorded config is compared after reading it back through the config
  classes, so records written before a field existed (e.g. `kind`) or with
  an old name of a prior compare by meaning.

  Args:
    model_dir: the run directory.
    model_config, train_config: the run asked for.
    change_optimizer: accept other values of `OPTIMIZER_FIELDS` (e.g. a
      lower learning rate after a divergence).

  Returns:
    The record to write: None if config.json exists and matches, else the
    new record (a new run, or a resume with changed optimizer settings,
    whose history `resumed` lists the changes).

  Raises:
    ValueError: the configuration differs, or the directory has
      checkpoints but no config.json.
  """
  path = os.path.join(model_dir, CONFIG_FILE)
  record = run_record(model_config, train_config)
  if not os.path.exists(path):
    found = run_dir.checkpoints_on_disk(run_dir.checkpoint_dir(model_dir))
    if found:
      raise ValueError(
          f'{model_dir!r} has checkpoints but no {CONFIG_FILE}, which says '
          'how they were trained; put the run\'s config.json back, or train '
          'into a new --model_dir.')
    return record
  previous_model, previous_train = load_run_config(model_dir)
  previous = run_record(previous_model, previous_train)
  if previous == record:
    return None
  changed = sorted((part, key) for part in record for key in record[part]
                   if previous[part].get(key) != record[part][key])
  names = ', '.join(f'{part}.{key}' for part, key in changed)
  optimizer_only = all(part == 'train' and key in OPTIMIZER_FIELDS
                       for part, key in changed)
  if not (optimizer_only and change_optimizer):
    hint = (' (to resume with other optimizer settings, add '
            '--change_optimizer_settings)' if optimizer_only else '')
    raise ValueError(
        f'{model_dir} holds a run with a different configuration (changed: '
        f'{names}){hint}. Resume it with the same flags, or train into a new '
        '--model_dir.')
  with open(path) as f:
    history = json.load(f).get('resumed', [])
  record['resumed'] = history + [{
      'changed': {f'{part}.{key}': [previous[part][key], record[part][key]]
                  for part, key in changed}}]
  return record


def load_run_config(model_dir):
  """(model config of either kind, TrainConfig) of a trained model directory."""
  path = os.path.join(model_dir, CONFIG_FILE)
  if not os.path.exists(path):
    raise FileNotFoundError(
        f'No {CONFIG_FILE} in {model_dir!r}: is --model_dir a directory '
        'written by bin/train.py?')
  try:
    with open(path) as f:
      record = json.load(f)
    return (config_lib.config_from_dict(record['model']),
            TrainConfig(**record['train']))
  except (json.JSONDecodeError, UnicodeDecodeError) as e:
    raise ValueError(f'{path} is not valid JSON ({e}); restore it from the '
                     'run\'s original config.json.') from None
  except (KeyError, TypeError, AttributeError) as e:
    raise ValueError(f'{path} is not a run record ({type(e).__name__}: {e}); '
                     'expected {"model": {...}, "train": {...}} as written by '
                     'bin/train.py.') from None
  except ValueError as e:
    raise ValueError(f'{path}: {e}') from None


@dataclasses.dataclass(frozen=True)
class RestoredRun:
  """A trained model restored from its directory.

  Attributes:
    model: the model, at the latest checkpoint.
    model_config: its model config (either kind).
    train_config: its `TrainConfig`.
    step: the training steps the checkpoint holds.
  """
  model: object
  model_config: object
  train_config: TrainConfig
  step: int


def restore_model(model_dir, data_dir=None, strategy=None, checkpoint=None):
  """The trained model of `model_dir`, a `RestoredRun`.

  Args:
    model_dir: a directory written by `train`.
    data_dir: where the dataset is (only for directories without
      train_mean.npy).
    strategy: the `tf.distribute.Strategy` to build under.
    checkpoint: a checkpoint name ('ckpt-N'), 'best' (the best validation
      score, `dvae_tf.validation`) or a path; default the newest, which must
      read back completely.

  Raises:
    FileNotFoundError: no config.json or no checkpoint.
    ValueError: the newest checkpoint (or the one asked for) is unreadable;
      the message names the newest readable one.
  """
  model_config, train_config = load_run_config(model_dir)
  directory = run_dir.checkpoint_dir(model_dir)
  if checkpoint is None:
    prefix = run_dir.newest_checkpoint(directory)
    if prefix is None:
      raise FileNotFoundError(f'No checkpoint in {directory}: train the model '
                              'first (bin/train.py).')
  elif checkpoint == validation.BEST:
    prefix = validation.best_prefix(model_dir)
  else:
    prefix = (checkpoint if os.path.dirname(checkpoint)
              else os.path.join(directory, checkpoint))
  error = run_dir.read_error(prefix)
  if error:
    readable = run_dir.restorable_checkpoint(model_dir, warn=lambda _: None,
                                             quarantine=False)
    fallback = (f'pass --checkpoint={os.path.basename(readable)} (the newest '
                'readable one), or rerun training to set it aside' if readable
                else 'no readable checkpoint remains; retrain')
    raise ValueError(f'Checkpoint {prefix} cannot be read ({error}); '
                     f'{fallback}.')
  model, optimizer = build_model_and_optimizer(
      model_config, train_config, data_dir,
      strategy or tf.distribute.get_strategy(), model_dir)
  check_checkpoint_matches(model, prefix, model_dir)
  make_checkpoint(model, optimizer).restore(prefix).expect_partial()
  return RestoredRun(model, model_config, train_config,
                     int(optimizer.iterations.numpy()))


def check_checkpoint_matches(model, prefix, model_dir):
  """Checks that checkpoint `prefix` holds `model`'s weights, shape by shape.

  A config.json edited by hand builds another model, which would fail deep
  inside the restore (with TensorFlow's warnings about unrestored values).
  Checkpoints that list no weights by position (version 0.1) are not checked.

  Raises:
    ValueError: the shapes differ; the message names the first difference.
  """
  shapes = tf.train.load_checkpoint(prefix).get_variable_to_shape_map()
  saved = {int(match.group(1)): shape for match, shape in (
      (re.fullmatch(r'weights/(\d+)/\.ATTRIBUTES/VARIABLE_VALUE', name), shape)
      for name, shape in shapes.items()) if match}
  if not saved:
    return
  built = [list(w.shape) for w in model.weights]
  if [saved.get(i) for i in range(len(saved))] == built:
    return
  first = next(i for i in range(max(len(built), len(saved)))
               if i >= len(built) or saved.get(i) != built[i])
  what = (f'weight {first} ({model.weights[first].path}) has shape '
          f'{built[first]} in the model {CONFIG_FILE} describes but '
          f'{saved.get(first)} in the checkpoint' if first < len(built) else
          f'the checkpoint holds {len(saved)} weights, the model '
          f'{len(built)}')
  raise ValueError(
      f'{os.path.join(model_dir, CONFIG_FILE)} does not describe the model '
      f'of {prefix}: {what}. Was it edited? Put back the run\'s original '
      f'{CONFIG_FILE} (the one training wrote).')


def make_checkpoint(model, optimizer):
  """A checkpoint of every model weight (by position) and the optimizer.

  Keras 3 layers held in Python lists are not tracked by `tf.train.Checkpoint`
  through the model object, so the weights are also listed explicitly; the
  order of `model.weights` is fixed by the model's construction.
  """
  return tf.train.Checkpoint(model=model, weights=list(model.weights),
                             optimizer=optimizer)


def train_mean(train_config, data_dir=None, model_dir=None, save=True):
  """The training set's mean image, which initialises the decoder's bias.

  Stored in `model_dir` (TRAIN_MEAN_FILE, atomically) when a run starts, so
  a trained model restores (for sampling, evaluation on other data, export)
  without the training data; computed from `data_dir` for older model
  directories, and by workers other than the chief (`save=False`).
  """
  path = model_dir and os.path.join(model_dir, TRAIN_MEAN_FILE)
  shape = data.image_shape(train_config.dataset)
  if path and os.path.exists(path):
    try:
      mean = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as e:
      raise ValueError(f'{path} cannot be read ({e}); delete it to recompute '
                       'it from the dataset (--data_dir).') from None
    if (mean.shape != tuple(shape) or not np.all(np.isfinite(mean)) or
        mean.min() < 0. or mean.max() > 1.):
      raise ValueError(
          f'{path} is not the mean image of {train_config.dataset} (shape '
          f'{mean.shape}, values in [{np.nanmin(mean)}, {np.nanmax(mean)}]; '
          f'expected {tuple(shape)} in [0, 1]); delete it to recompute it '
          'from the dataset (--data_dir).')
    return mean
  mean = data.train_mean(train_config.dataset, data_dir=data_dir)
  if not np.all(np.isfinite(mean)):
    raise ValueError(f'The mean training image of {train_config.dataset} is '
                     'not finite; check the dataset files in --data_dir.')
  if path and save:
    run_dir.write_atomic(path, lambda f: np.save(f, mean), binary=True)
  return mean


def build_model_and_optimizer(model_config, train_config, data_dir, strategy,
                              model_dir=None, save_mean=True):
  mean = train_mean(train_config, data_dir, model_dir, save=save_mean)
  # Seeded initialization: a run is reproducible from its flags alone.
  keras.utils.set_random_seed(train_config.seed)
  with strategy.scope():
    model = config_lib.build_model(
        model_config, mean, binary=data.is_binary(train_config.dataset))
    model.build()
    optimizer = optimizer_lib.Adam(
        schedules.LEARNING_RATE_SCHEDULES[train_config.learning_rate_schedule](
            train_config.learning_rate, train_config.num_steps),
        epsilon=1e-3)
    optimizer.build(model.trainable_variables)
  return model, optimizer


class _StopSignal:
  """Turns SIGINT/SIGTERM into a flag the loop checks after each step."""

  def __init__(self):
    self.received = None
    self._previous = {}

  def __enter__(self):
    for sig in (signal.SIGINT, signal.SIGTERM):
      try:
        self._previous[sig] = signal.signal(sig, self._handle)
      except ValueError:  # Not the main thread: no handlers.
        pass
    return self

  def _handle(self, signum, frame):
    del frame
    self.received = signal.Signals(signum).name

  def __exit__(self, *exc):
    for sig, handler in self._previous.items():
      signal.signal(sig, handler)


def make_train_step(model, optimizer, cfg, strategy):
  """The `tf.function` training step: iterator -> dict of reduced scalars.

  Each replica maximizes its share of the bound (KL-annealed, beta-annealed)
  minus weight decay; its seed is keyed by (seed, step, replica), so a run is
  reproducible and a resumed run continues exactly. The scalars are summed
  over replicas (and workers) in one all-reduce; among them `stop`, the
  number of replicas whose process asked to stop (`stop_requested`), so
  that every worker of a cluster stops after the same step; `nonfinite`,
  the variables the update left with a NaN or an infinity
  (`nonfinite_count` of `checkpointed_floats`); and `bad_batch`, the
  replicas whose batch held pixels outside the dataset's range ([0, 1], or
  [0, 255] for 8-bit data).
  """
  warmup = int(cfg.kl_anneal_fraction * cfg.num_steps)
  num_replicas = strategy.num_replicas_in_sync
  base_seed = tf.constant([cfg.seed, 1], tf.int32)

  names = ('loss', 'bound', 'kl', 'beta', 'kl_weight', 'stop', 'nonfinite',
           'bad_batch')
  state = checkpointed_floats(model, optimizer)
  top = 1. if data.is_binary(cfg.dataset) else 255.  # `data.make_dataset`

  def replica_step(x, stop_requested):
    step = optimizer.iterations
    replica = tf.distribute.get_replica_context().replica_id_in_sync_group
    seed = tf.random.experimental.stateless_fold_in(
        tf.random.experimental.stateless_fold_in(base_seed, step), replica)
    beta = schedules.linear(step, cfg.beta_start, cfg.beta_end, cfg.num_steps)
    kl_weight = schedules.kl_weight(step, warmup)
    with tf.GradientTape() as tape:
      terms = model.elbo(x, beta, seed, kl_weight=kl_weight,
                         num_samples=cfg.num_iw_train, training=True)
      loss = (-tf.reduce_sum(terms['bound']) / cfg.batch_size +
              cfg.weight_decay * model.weight_decay_loss() / num_replicas)
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    # What the update left behind (read after it: automatic control
    # dependencies): an overflowed Adam slot can sit beside a finite loss.
    nonfinite = nonfinite_count(state)
    # NaN pixels fail both comparisons.
    bad_batch = tf.reduce_any(tf.logical_not((x >= 0.) & (x <= top)))
    # The unannealed bound (KL weight 1), for monitoring.
    bound = terms['log_likelihood'] - terms['kl']
    out = {'loss': loss,
           'bound': tf.reduce_sum(bound) / cfg.batch_size,
           'kl': tf.reduce_sum(terms['kl']) / cfg.batch_size,
           'beta': beta / num_replicas, 'kl_weight': kl_weight / num_replicas,
           'stop': stop_requested, 'nonfinite': nonfinite,
           'bad_batch': bad_batch}
    return tf.stack([tf.cast(out[k], tf.float32) for k in names])

  @tf.function
  def train_step(iterator, stop_requested=0.):
    packed = strategy.run(replica_step, args=(
        next(iterator), tf.cast(stop_requested, tf.float32)))
    total = strategy.reduce(tf.distribute.ReduceOp.SUM, packed, axis=None)
    return dict(zip(names, tf.unstack(total)))

  return train_step


def checkpointed_floats(model, optimizer):
  """The floating-point variables a checkpoint of `make_checkpoint` holds."""
  return [v for v in list(model.weights) + list(optimizer.variables)
          if tf.as_dtype(v.dtype).is_floating]


def nonfinite_count(variables):
  """How many of `variables` hold a NaN or an infinity (float32 scalar)."""
  return tf.add_n([tf.cast(tf.logical_not(tf.reduce_all(tf.math.is_finite(v))),
                           tf.float32) for v in variables])


def nonfinite_names(variables):
  """The names of the `variables` that hold a NaN or an infinity."""
  return [getattr(v, 'path', v.name) for v in variables
          if not np.all(np.isfinite(v.numpy()))]


def read_metrics(values):
  """The step's reduced scalars as Python floats (one host read a step)."""
  return {k: float(v) for k, v in values.items()}


def reference_bound(train_mean, binary):
  """log p(x) of a model that ignores its latents, nats per image (negative).

  For binary pixels, factorial Bernoulli at the training mean m:
  E_x[log p(x)] = sum_pixels [m log m + (1 - m) log(1 - m)] (m clipped to
  [1e-3, 1 - 1e-3], as the decoder's initial bias); for 8-bit pixels, the
  uniform distribution, -H W C log 256. A model's bound starts near it and
  rises; `COLLAPSE_FACTOR` times it is far below any trained model.
  """
  m = np.clip(np.asarray(train_mean, np.float64), 1e-3, 1. - 1e-3)
  if binary:
    return float(np.sum(m * np.log(m) + (1. - m) * np.log1p(-m)))
  return float(-m.size * np.log(256.))


def _divergence(values, state, collapse, binary):
  """What went wrong at a step (its reduced scalars, without `stop`), or None.

  Pops `nonfinite` and `bad_batch` from `values`.
  """
  nonfinite, bad_batch = values.pop('nonfinite'), values.pop('bad_batch')
  if bad_batch:
    return ('A batch held pixel values outside the dataset\'s range, or '
            'NaN: the data or the input pipeline is damaged')
  if not np.isfinite(values['loss']):
    return f'The loss became {values["loss"]}'
  if nonfinite:
    return _nonfinite_text(state) + f' (the loss was {values["loss"]:.4g})'
  if values['bound'] < collapse:
    return (f'The bound collapsed to {values["bound"]:.4g} nats, below '
            f'{COLLAPSE_FACTOR:g} times that of the mean image '
            f'({collapse / COLLAPSE_FACTOR:.4g})')
  if binary and values['bound'] > 0.:
    return (f'The bound rose to {values["bound"]:.4g} nats, above 0, which '
            'no model of binary pixels can reach (log p(x) <= 0)')
  return None


def _nonfinite_text(state):
  names = nonfinite_names(state)
  shown = ', '.join(names[:3]) + (', ...' if len(names) > 3 else '')
  return (f'The update left NaN or infinite values in {len(names)} '
          f'variables ({shown})' if names else
          'The update left NaN or infinite values in a replica\'s variables')


def _refresh_bound(model, values, seed):
  """Refreshes the prior's log Z (quick AIS) and moves values['bound'] by it.

  bound = log p(x | z) - KL and KL contains +log Z, so the bound moves by
  -delta log Z.
  """
  before = model.prior.log_z
  values['bound'] -= model.prior.refresh_log_normalizer(
      ais_chains=MONITOR_AIS_CHAINS, ais_betas=MONITOR_AIS_BETAS,
      seed=seed).value - before


def _diverged(what, step, manager):
  """The `TrainingDivergedError` of a run that went wrong at `step`."""
  latest = manager.latest_checkpoint
  good = (f'The last good checkpoint is {latest}' if latest else
          'No checkpoint was saved yet, so a rerun starts from step 0')
  return TrainingDivergedError(
      f'{what} at step {step}; nothing was saved after it. {good}. Lower '
      '--learning_rate (and add --change_optimizer_settings) or --beta_end, '
      'or check the data, then rerun to resume.')


def _save(manager, step, directory):
  """manager.save(step), with a failure reported as `CheckpointSaveError`."""
  previous = manager.latest_checkpoint
  try:
    return manager.save(checkpoint_number=step)
  except (OSError, tf.errors.OpError) as e:
    run_dir.remove_leftovers(directory)
    reason = str(e).splitlines()[0] if str(e) else type(e).__name__
    raise CheckpointSaveError(
        f'Could not save the checkpoint of step {step} in {directory} '
        f'({reason}); the previous checkpoint, {previous}, is kept. Free '
        'disk space or fix the permissions, then rerun the same command to '
        'resume.') from None


def train(model_config, train_config, model_dir, data_dir=None, strategy=None,
          verbose=True, change_optimizer=False):
  """Trains (or resumes training of) a model; see the module docstring.

  Args:
    model_config: a model config of either kind (`models.config`).
    train_config: a `TrainConfig`.
    model_dir: where checkpoints, config and summaries go.
    data_dir: where dataset files are (see `dvae_tf.data`).
    strategy: a `tf.distribute.Strategy` (default: the default strategy;
      `distribute.make_strategy` builds the others). Under a multi-worker
      strategy every worker calls `train` with the same arguments; the chief
      holds the lock and writes the run directory, the others save into
      folders of their own that they delete (`dvae_tf.distribute`).
    verbose: show a progress bar and what resumed.
    change_optimizer: on resume, accept other values of `OPTIMIZER_FIELDS`
      (recorded in config.json's `resumed`).

  Returns:
    dict with `step`, `stopped_by` ('num_steps' or a signal name), the last
    `bound` (nats per example; an RBM prior's log Z refreshed at the end),
    and `steps_per_second`.

  Raises:
    TrainingDivergedError: the loss or a checkpointed variable became NaN or
      infinite, a batch left the pixel range, or the bound collapsed or rose above 0
      on binary pixels; the message names the last good checkpoint.
    CheckpointSaveError: a checkpoint could not be written.
    run_dir.RunDirectoryError: the directory is locked or not writable.
  """
  strategy = strategy or tf.distribute.get_strategy()
  distribute.check_divisible('batch_size', train_config.batch_size,
                             strategy.num_replicas_in_sync)
  if not os.path.exists(os.path.join(model_dir, TRAIN_MEAN_FILE)):
    # The data are read and checked before anything is written.
    train_mean(train_config, data_dir)
  run_dir.check_writable(model_dir)
  if not distribute.is_chief(strategy):
    return _train_locked(model_config, train_config, model_dir, data_dir,
                         strategy, False, change_optimizer)
  with run_dir.RunLock(model_dir):
    return _train_locked(model_config, train_config, model_dir, data_dir,
                         strategy, verbose, change_optimizer)


def _say(verbose, text):
  if verbose:
    print(text, file=sys.stderr, flush=True)


def _train_locked(model_config, train_config, model_dir, data_dir, strategy,
                  verbose, change_optimizer):
  """`train` inside the run's lock (on the chief; other workers: without)."""
  cfg = train_config
  chief = distribute.is_chief(strategy)
  record = check_run_config(model_dir, model_config, cfg, change_optimizer)
  model, optimizer = build_model_and_optimizer(
      model_config, cfg, data_dir, strategy, model_dir, save_mean=chief)
  save_dir = distribute.worker_dir(model_dir, strategy)
  directory = run_dir.checkpoint_dir(save_dir)
  if chief:
    for path in (run_dir.remove_leftovers(directory) +
                 run_dir.remove_leftovers(validation.best_dir(model_dir))):
      _say(verbose, f'Removed {path}, left by an interrupted save.')
  distribute.remove_worker_dir(model_dir, strategy)
  checkpoint = make_checkpoint(model, optimizer)
  latest = run_dir.restorable_checkpoint(
      model_dir, warn=lambda line: print(line, file=sys.stderr, flush=True),
      quarantine=chief)
  if latest:
    checkpoint.restore(latest)
  manager = tf.train.CheckpointManager(checkpoint, directory, max_to_keep=3)
  best = validation.BestCheckpoint(checkpoint, save_dir,
                                   record=validation.read_best(model_dir))
  start = int(optimizer.iterations.numpy())
  if record is not None and chief:
    run_dir.write_json_atomic(os.path.join(model_dir, CONFIG_FILE), record)
  if latest:
    _say(verbose, f'Resuming from step {start} ({latest}).')
  if start >= cfg.num_steps:
    return {'step': start, 'stopped_by': 'num_steps', 'bound': None,
            'steps_per_second': None}

  dataset = data.make_dataset(cfg.dataset, 'train', cfg.batch_size,
                              data_dir=data_dir, seed=cfg.seed,
                              start_step=start)
  iterator = distribute.distribute_global_batches(strategy, dataset,
                                                 cfg.batch_size)
  train_step = make_train_step(model, optimizer, cfg, strategy)
  gather_replica_state = tf.function(
      lambda: strategy.run(model.prior.gather_replica_state))

  def save(save_fn):
    # Every replica's state into the saved copy; every worker saves, and
    # only the chief's copy is kept.
    if strategy.num_replicas_in_sync > 1:
      gather_replica_state()
    if nonfinite_names(state):  # E.g. a log Z refreshed since the step.
      raise _diverged(_nonfinite_text(state), step, manager)
    result = save_fn()
    distribute.remove_worker_dir(model_dir, strategy)
    return result

  binary = data.is_binary(cfg.dataset)
  collapse = COLLAPSE_FACTOR * reference_bound(
      train_mean(cfg, data_dir, model_dir), binary)
  state = checkpointed_floats(model, optimizer)
  if cfg.validate_every:
    validation_images = data.load_images(cfg.dataset, 'validation',
                                         data_dir=data_dir)
    if cfg.validation_images:
      validation_images = validation_images[:cfg.validation_images]

  writer = (tf.summary.create_file_writer(os.path.join(model_dir, 'train'))
            if chief else tf.summary.create_noop_writer())
  progbar = keras.utils.Progbar(cfg.num_steps, verbose=1 if verbose else 0,
                                stateful_metrics=['bound', 'kl', 'beta'])
  progbar.update(start)
  step, stopped_by, values = start, 'num_steps', {}
  tic, tic_step = time.perf_counter(), start
  with _StopSignal() as stop:
    while step < cfg.num_steps:
      values = read_metrics(train_step(
          iterator, tf.constant(float(stop.received is not None))))
      stop_requested = values.pop('stop') > 0
      if binary and values['bound'] > 0. and np.isfinite(values['loss']):
        # Judged with a fresh log Z: a stale one shifts the bound.
        _refresh_bound(model, values, (cfg.seed, step + 1))
      what = _divergence(values, state, collapse, binary)
      if what:
        raise _diverged(what, step + 1, manager)
      step += 1
      if step % cfg.log_every == 0 or step == cfg.num_steps:
        rate = (step - tic_step) / (time.perf_counter() - tic)
        tic, tic_step = time.perf_counter(), step
        with writer.as_default(step=step):
          for k, v in values.items():
            tf.summary.scalar(k, v)
          tf.summary.scalar('steps_per_second', rate)
          tf.summary.scalar('learning_rate',
                            float(optimizer.learning_rate))
        values['steps_per_second'] = rate
        progbar.update(step, [(k, values[k]) for k in ('bound', 'kl', 'beta')])
      if chief and cfg.image_every and step % cfg.image_every == 0:
        with writer.as_default(step=step):
          means, _ = model.sample(64, seed=(cfg.seed, step))
          tf.summary.image('samples', images.grid(means.numpy())[None])
      if cfg.log_z_every and step % cfg.log_z_every == 0:
        # A quick estimate for monitoring; bin/evaluate.py uses the full AIS.
        model.prior.refresh_log_normalizer(ais_chains=MONITOR_AIS_CHAINS,
                                           ais_betas=MONITOR_AIS_BETAS,
                                           seed=(cfg.seed, step))
      last = stop_requested or step == cfg.num_steps
      if last:
        # The last bound used the log Z of the last refresh; the refreshed
        # value is saved with the checkpoint.
        _refresh_bound(model, values, (cfg.seed, step))
      # Not when stopped by a signal: the checkpoint must come first.
      if cfg.validate_every and (step == cfg.num_steps or
                                 step % cfg.validate_every == 0):
        if not last:  # At the last step log Z was just refreshed.
          model.prior.refresh_log_normalizer(
              ais_chains=MONITOR_AIS_CHAINS, ais_betas=MONITOR_AIS_BETAS,
              seed=(cfg.seed, step))
        nll, stderr = validation.validation_score(
            model, validation_images, cfg.validation_samples, cfg.seed, step,
            strategy)
        with writer.as_default(step=step):
          tf.summary.scalar('validation_nll', nll)
        if best.better(nll):
          save(lambda: best.keep(step, nll, stderr, len(validation_images),
                                 cfg.validation_samples))
        values['validation_nll'] = nll
      if last or step % cfg.checkpoint_every == 0:
        save(lambda: _save(manager, step, directory))
      if stop_requested:
        stopped_by = stop.received or 'a signal to another worker'
        break
  progbar.update(step, finalize=True)  # Ends the progress line.
  writer.flush()
  return {'step': step, 'stopped_by': stopped_by,
          'bound': values.get('bound'),
          'steps_per_second': values.get('steps_per_second')}
