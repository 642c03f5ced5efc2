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

Rerunning the same call resumes from the latest checkpoint: the step count,
the schedules (functions of the step) and the input order (keyed by step)
continue exactly, so at most the steps after the last checkpoint are redone.
A non-finite loss stops training with `TrainingDivergedError` before anything
is saved, so the last checkpoint stays good.
"""

import dataclasses
import json
import os
import signal
import time

import keras
import numpy as np
import tensorflow as tf

from dvae_tf import data
from dvae_tf import images
from dvae_tf import optimizer as optimizer_lib
from dvae_tf import schedules
from dvae_tf.models import config as config_lib

CONFIG_FILE = 'config.json'
TRAIN_MEAN_FILE = 'train_mean.npy'
# The quick AIS of the log Z refreshes during training (monitoring only;
# evaluation and export use the paper's settings).
MONITOR_AIS_CHAINS = 100
MONITOR_AIS_BETAS = 300


class TrainingDivergedError(RuntimeError):
  """The loss became NaN or infinite."""


@dataclasses.dataclass(frozen=True)
class TrainConfig:
  """How to train (defaults: Sec. 7.1 and the Appendix F notes).

  Attributes:
    dataset: a name from `dvae_tf.data.DATASETS`.
    num_steps: total training steps.
    batch_size: global batch size (split across replicas).
    learning_rate: base rate of Adam (epsilon 1e-3) under the piecewise decay
      of `schedules.PiecewiseLearningRate`.
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
  """
  dataset: str = 'sample'
  num_steps: int = 100_000
  batch_size: int = 100
  learning_rate: float = 3e-3
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

  def __post_init__(self):
    if self.dataset not in data.DATASETS:
      raise ValueError(f'dataset={self.dataset!r} is not one of '
                       f'{sorted(data.DATASETS)}.')
    for name in ('num_steps', 'batch_size', 'num_iw_train', 'checkpoint_every',
                 'log_every'):
      if getattr(self, name) < 1:
        raise ValueError(f'{name} must be a positive integer; got '
                         f'{getattr(self, name)}.')
    for name in ('learning_rate', 'beta_start', 'beta_end'):
      if not getattr(self, name) > 0:
        raise ValueError(f'{name} must be positive; got {getattr(self, name)}.')


def save_run_config(model_dir, model_config, train_config):
  """Writes config.json, or checks that a resumed run has the same config.

  A recorded config is compared after reading it back through the config
  classes, so records written before a field existed (e.g. `kind`) or with
  an old name of a prior compare by meaning.
  """
  path = os.path.join(model_dir, CONFIG_FILE)
  record = {'model': model_config.to_dict(),
            'train': dataclasses.asdict(train_config)}
  if os.path.exists(path):
    previous_model, previous_train = load_run_config(model_dir)
    previous = {'model': previous_model.to_dict(),
                'train': dataclasses.asdict(previous_train)}
    if previous != record:
      changed = sorted(
          f'{part}.{key}' for part in record for key in record[part]
          if previous.get(part, {}).get(key) != record[part][key])
      raise ValueError(
          f'{model_dir} holds a run with a different configuration (changed: '
          f'{", ".join(changed)}). Resume it with the same flags, or train '
          'into a new --model_dir.')
    return
  os.makedirs(model_dir, exist_ok=True)
  with open(path, 'w') as f:
    json.dump(record, f, indent=2)


def load_run_config(model_dir):
  """(model config of either kind, TrainConfig) of a trained model directory."""
  path = os.path.join(model_dir, CONFIG_FILE)
  if not os.path.exists(path):
    raise FileNotFoundError(
        f'No {CONFIG_FILE} in {model_dir!r}: is --model_dir a directory '
        'written by bin/train.py?')
  with open(path) as f:
    record = json.load(f)
  return (config_lib.config_from_dict(record['model']),
          TrainConfig(**record['train']))


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


def restore_model(model_dir, data_dir=None, strategy=None):
  """The trained model of `model_dir` (latest checkpoint), a `RestoredRun`."""
  model_config, train_config = load_run_config(model_dir)
  model, optimizer = build_model_and_optimizer(
      model_config, train_config, data_dir,
      strategy or tf.distribute.get_strategy(), model_dir)
  checkpoint = make_checkpoint(model, optimizer)
  latest = tf.train.latest_checkpoint(os.path.join(model_dir, 'checkpoints'))
  if latest is None:
    raise FileNotFoundError(f'No checkpoint in {model_dir}/checkpoints: train '
                            'the model first (bin/train.py).')
  checkpoint.restore(latest).expect_partial()
  return RestoredRun(model, model_config, train_config,
                     int(optimizer.iterations.numpy()))


def make_checkpoint(model, optimizer):
  """A checkpoint of every model weight (by position) and the optimizer.

  Keras 3 layers held in Python lists are not tracked by `tf.train.Checkpoint`
  through the model object, so the weights are also listed explicitly; the
  order of `model.weights` is fixed by the model's construction.
  """
  return tf.train.Checkpoint(model=model, weights=list(model.weights),
                             optimizer=optimizer)


def train_mean(train_config, data_dir=None, model_dir=None):
  """The training set's mean image, which initialises the decoder's bias.

  Stored in `model_dir` (TRAIN_MEAN_FILE) when a run starts, so a trained
  model restores (for sampling, evaluation on other data, export) without
  the training data; computed from `data_dir` for older model directories.
  """
  path = model_dir and os.path.join(model_dir, TRAIN_MEAN_FILE)
  if path and os.path.exists(path):
    return np.load(path)
  mean = data.train_mean(train_config.dataset, data_dir=data_dir)
  if path:
    np.save(path, mean)
  return mean


def build_model_and_optimizer(model_config, train_config, data_dir, strategy,
                              model_dir=None):
  mean = train_mean(train_config, data_dir, model_dir)
  # Seeded initialization: a run is reproducible from its flags alone.
  keras.utils.set_random_seed(train_config.seed)
  with strategy.scope():
    model = config_lib.build_model(
        model_config, mean, binary=data.is_binary(train_config.dataset))
    model.build()
    optimizer = optimizer_lib.Adam(
        schedules.PiecewiseLearningRate(train_config.learning_rate,
                                        train_config.num_steps),
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
  reproducible and a resumed run continues exactly.
  """
  warmup = int(cfg.kl_anneal_fraction * cfg.num_steps)
  num_replicas = strategy.num_replicas_in_sync
  base_seed = tf.constant([cfg.seed, 1], tf.int32)

  def replica_step(x):
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
    # The unannealed bound (KL weight 1), for monitoring.
    bound = terms['log_likelihood'] - terms['kl']
    return {'loss': loss,
            'bound': tf.reduce_sum(bound) / cfg.batch_size,
            'kl': tf.reduce_sum(terms['kl']) / cfg.batch_size,
            'beta': beta / num_replicas, 'kl_weight': kl_weight / num_replicas}

  @tf.function
  def train_step(iterator):
    out = strategy.run(replica_step, args=(next(iterator),))
    return {k: strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None)
            for k, v in out.items()}

  return train_step


def read_metrics(values):
  """The step's reduced scalars as Python floats (one host read a step)."""
  return {k: float(v) for k, v in values.items()}


def train(model_config, train_config, model_dir, data_dir=None, strategy=None,
          verbose=True):
  """Trains (or resumes training of) a model; see the module docstring.

  Args:
    model_config: a model config of either kind (`models.config`).
    train_config: a `TrainConfig`.
    model_dir: where checkpoints, config and summaries go.
    data_dir: where dataset files are (see `dvae_tf.data`).
    strategy: a `tf.distribute.Strategy` (default: the default strategy; pass
      `tf.distribute.MirroredStrategy()` for several GPUs).
    verbose: show a progress bar.

  Returns:
    dict with `step`, `stopped_by` ('num_steps' or a signal name), the last
    `bound` (nats per example, with the latest log Z estimate), and
    `steps_per_second`.

  Raises:
    TrainingDivergedError: the loss became NaN or infinite.
  """
  strategy = strategy or tf.distribute.get_strategy()
  save_run_config(model_dir, model_config, train_config)
  model, optimizer = build_model_and_optimizer(model_config, train_config,
                                               data_dir, strategy, model_dir)
  checkpoint = make_checkpoint(model, optimizer)
  manager = tf.train.CheckpointManager(
      checkpoint, os.path.join(model_dir, 'checkpoints'), max_to_keep=3)
  checkpoint.restore(manager.latest_checkpoint)
  start = int(optimizer.iterations.numpy())
  cfg = train_config
  if start >= cfg.num_steps:
    return {'step': start, 'stopped_by': 'num_steps', 'bound': None,
            'steps_per_second': None}

  dataset = data.make_dataset(cfg.dataset, 'train', cfg.batch_size,
                              data_dir=data_dir, seed=cfg.seed,
                              start_step=start)
  iterator = iter(strategy.experimental_distribute_dataset(dataset))
  train_step = make_train_step(model, optimizer, cfg, strategy)

  writer = tf.summary.create_file_writer(os.path.join(model_dir, 'train'))
  progbar = keras.utils.Progbar(cfg.num_steps, verbose=1 if verbose else 0,
                                stateful_metrics=['bound', 'kl', 'beta'])
  progbar.update(start)
  step, stopped_by, values = start, 'num_steps', {}
  tic, tic_step = time.perf_counter(), start
  with _StopSignal() as stop:
    while step < cfg.num_steps:
      values = read_metrics(train_step(iterator))
      if not np.isfinite(values['loss']):
        raise TrainingDivergedError(
            f'The loss became {values["loss"]} at step {step + 1}; nothing '
            f'was saved after it. The last good checkpoint is '
            f'{manager.latest_checkpoint}. Lower --learning_rate or '
            '--beta_end, or check the data, then rerun to resume.')
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
      if cfg.image_every and step % cfg.image_every == 0:
        with writer.as_default(step=step):
          means, _ = model.sample(64, seed=(cfg.seed, step))
          tf.summary.image('samples', images.grid(means.numpy())[None])
      if cfg.log_z_every and step % cfg.log_z_every == 0:
        # A quick estimate for monitoring; bin/evaluate.py uses the full AIS.
        model.prior.refresh_log_normalizer(ais_chains=MONITOR_AIS_CHAINS,
                                           ais_betas=MONITOR_AIS_BETAS,
                                           seed=(cfg.seed, step))
      if stop.received or step % cfg.checkpoint_every == 0:
        manager.save(checkpoint_number=step)
      if stop.received:
        stopped_by = stop.received
        break
    if stopped_by == 'num_steps':
      manager.save(checkpoint_number=step)
  writer.flush()
  return {'step': step, 'stopped_by': stopped_by,
          'bound': values.get('bound'),
          'steps_per_second': values.get('steps_per_second')}
