"""What the training loop does after each step, one hook per concern.

Every hook is a `keras.callbacks.Callback` that the loop calls, in order,
with `on_train_batch_end(step, logs)` (the step just done, counted from 1,
and its reduced scalars as floats), after `on_train_begin` and before
`on_train_end`. The hooks of `dvae-train` share a `TrainingRun` (the model,
the run directory's checkpoint managers, the summary writer, the step and
whether it is the last); a user's own callbacks (`train(...,
callbacks=[...])`) run after them and see the logs they leave: `loss`,
`bound`, `kl`, `beta`, `kl_weight`, and, when measured, `steps_per_second`
and `validation_nll`.
"""

import dataclasses
import sys
import time

import keras
import numpy as np
import tensorflow as tf

from dvae_tf import distribute
from dvae_tf.evaluation import bound as evaluation
from dvae_tf import images
from dvae_tf import run_directory
from dvae_tf.distributions.ais import MONITOR_AIS_CHAINS
from dvae_tf.distributions.ais import MONITOR_AIS_TEMPERATURES
from dvae_tf.models.base import RefreshLogNormalizer
from dvae_tf.training import step as step_lib

# Training stops when the bound falls below this multiple of
# `reference_bound` (both negative) on `COLLAPSE_STEPS` consecutive steps, or
# at a step where a checkpoint may be saved. One batch's bound can dip below
# it and recover: Table 3's OMNIGLOT runs (seed 1) have a KL of 2145 nats at
# step 123 of 6000, during the KL warm-up, and are back above -800 the next
# step.
COLLAPSE_FACTOR = 10.
COLLAPSE_STEPS = 20


class TrainingDivergedError(RuntimeError):
  """The loss or a variable became NaN or infinite, a batch was out of
  range, or the bound collapsed or left what the data allow."""


class CheckpointSaveError(RuntimeError):
  """A checkpoint could not be written (disk full, read-only, ...)."""


@dataclasses.dataclass
class TrainingRun:
  """What the hooks of one training share.

  Attributes:
    model, optimizer, cfg: the model, its optimizer and its `TrainConfig`.
    strategy: the `tf.distribute.Strategy`; `chief`: whether this worker
      writes the run directory.
    run_dir: the run directory; `save_dir`: where this worker saves
      (`distribute.worker_dir`).
    manager: the `tf.train.CheckpointManager` of the latest checkpoints;
      `best`: the `run_directory.BestCheckpoint`.
    writer: the TensorBoard summary writer (a no-op off the chief).
    verbose: whether to show progress.
    step: the steps done; `last`: whether this step ends the training
      (`num_steps` reached or a stop asked for).
  """
  model: object
  optimizer: object
  cfg: object
  strategy: object
  chief: bool
  run_dir: str
  save_dir: str
  manager: object
  best: object
  writer: object
  verbose: bool
  step: int
  last: bool = False

  def save(self, save_fn):
    """`save_fn()` of a consistent, finite state: every replica's state in
    the saved copy (every worker saves; only the chief's copy is kept)."""
    if self.strategy.num_replicas_in_sync > 1:
      self._gather_replica_state()
    state = step_lib.checkpointed_floats(self.model, self.optimizer)
    if step_lib.nonfinite_names(state):  # E.g. a log Z refreshed since.
      raise self.diverged(nonfinite_text(state))
    result = save_fn()
    distribute.remove_worker_dir(self.run_dir, self.strategy)
    return result

  @property
  def _gather_replica_state(self):
    if not hasattr(self, '_gather'):
      self._gather = tf.function(
          lambda: self.strategy.run(self.model.prior.gather_replica_state))
    return self._gather

  def diverged(self, what):
    """The `TrainingDivergedError` of a run that went wrong at this step."""
    latest = self.manager.latest_checkpoint
    good = (f'The last good checkpoint is {latest}' if latest else
            'No checkpoint was saved yet, so a rerun starts from step 0 (to '
            'change a setting other than the learning rate, such as '
            '--weight_decay, delete the run directory or choose another)')
    return TrainingDivergedError(
        f'{what} at step {self.step}; nothing was saved after it. {good}. '
        'Lower --learning_rate (and add --change_optimizer_settings) or '
        '--beta_end, or check the data, then rerun to resume.')


class RunHook(keras.callbacks.Callback):
  """A hook of `dvae-train`'s loop, on its `TrainingRun`.

  The loop runs several steps a call (`step.make_train_step`) and calls the
  hooks after each call; a call never runs past the step a hook acts at:
  `next_step`, from the `TrainConfig` intervals named in `INTERVALS` (and
  the last step, where every hook may act).
  """

  INTERVALS = ()

  def __init__(self, run):
    super().__init__()
    self.run = run

  def every(self, interval):
    """Whether this step is a multiple of `interval` (0: never)."""
    return bool(interval) and self.run.step % interval == 0

  def due(self):
    """Whether this step is a multiple of one of the hook's `INTERVALS`."""
    return any(self.every(getattr(self.run.cfg, name))
               for name in self.INTERVALS)

  def next_step(self, step):
    """The first step after `step` this hook acts at."""
    cfg = self.run.cfg
    return min([cfg.num_steps] + [
        (step // interval + 1) * interval
        for interval in (getattr(cfg, name) for name in self.INTERVALS)
        if interval])


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


def nonfinite_text(state):
  names = step_lib.nonfinite_names(state)
  shown = ', '.join(names[:3]) + (', ...' if len(names) > 3 else '')
  return (f'The update left NaN or infinite values in {len(names)} '
          f'variables ({shown})' if names else
          'The update left NaN or infinite values in a replica\'s variables')


def refresh_bound(model, logs, seed):
  """Refreshes the prior's log Z (quick AIS) and moves logs['bound'] by it.

  bound = log p(x | z) - KL and KL contains +log Z, so the bound moves by
  -delta log Z.
  """
  before = model.prior.log_z
  logs['bound'] -= model.prior.refresh_log_normalizer(
      ais_chains=MONITOR_AIS_CHAINS, ais_temperatures=MONITOR_AIS_TEMPERATURES,
      seed=seed).value - before


class DivergenceGuard(RunHook):
  """Stops the run, before anything is saved after the step, when it went
  wrong: a batch out of the pixel range, a NaN or infinite loss or
  checkpointed variable, a bound below `COLLAPSE_FACTOR` times
  `reference_bound` on `COLLAPSE_STEPS` consecutive steps or at a step
  where a checkpoint may be saved (the last, or one of `INTERVALS`), or a
  bound above 0 on binary pixels even after refreshing a stale log Z.
  Removes `nonfinite` and `bad_batch` from the logs."""

  # The intervals of the hooks that save (`Checkpoints`, `Validation`'s best
  # checkpoint): a collapsed state is never saved.
  INTERVALS = ('checkpoint_every', 'validate_every')

  def __init__(self, run, train_mean, binary):
    super().__init__(run)
    self.binary = binary
    self.collapse = COLLAPSE_FACTOR * reference_bound(train_mean, binary)
    self._collapsed = (None, 0)  # (latest collapsed step, streak length)

  def suspect(self, scalars):
    """`step.suspect`, or a bound this hook would look at (float32 tensors
    in, a bool tensor out: the step's call ends after such a step)."""
    bound = scalars['bound']
    return (step_lib.suspect(scalars) | (bound < self.collapse) |
            ((bound > 0.) if self.binary else tf.constant(False)))

  def on_train_batch_end(self, batch, logs=None):
    what = self._what(logs)
    if what:
      raise self.run.diverged(what)

  def _what(self, logs):
    nonfinite, bad_batch = logs.pop('nonfinite'), logs.pop('bad_batch')
    if bad_batch:
      return ('A batch held pixel values outside the dataset\'s range, or '
              'NaN: the data or the input pipeline is damaged')
    if not np.isfinite(logs['loss']):
      return f'The loss became {logs["loss"]}'
    if self.binary and logs['bound'] > 0.:
      # Judged with a fresh log Z: a stale one shifts the bound.
      refresh_bound(self.run.model, logs, (self.run.cfg.seed, self.run.step))
    if nonfinite:
      state = step_lib.checkpointed_floats(self.run.model, self.run.optimizer)
      return nonfinite_text(state) + f' (the loss was {logs["loss"]:.4g})'
    if logs['bound'] < self.collapse and self._collapsed_long_enough():
      return (f'The bound collapsed to {logs["bound"]:.4g} nats, below '
              f'{COLLAPSE_FACTOR:g} times that of the mean image '
              f'({self.collapse / COLLAPSE_FACTOR:.4g})')
    if self.binary and logs['bound'] > 0.:
      return (f'The bound rose to {logs["bound"]:.4g} nats, above 0, which '
              'no model of binary pixels can reach (log p(x) <= 0)')
    return None

  def _collapsed_long_enough(self):
    """Counts this step (whose bound is below the collapse level) into the
    streak of consecutive such steps (`suspect` ends a call after each, so
    every one is seen): whether the streak reached `COLLAPSE_STEPS`, or a
    checkpoint may be saved after this step."""
    latest, length = self._collapsed
    length = length + 1 if latest == self.run.step - 1 else 1
    self._collapsed = (self.run.step, length)
    return length >= COLLAPSE_STEPS or self.run.last or self.due()


class Scalars(RunHook):
  """TensorBoard scalars every `log_every` steps and at the end: the step's
  logs, `steps_per_second` (also put in the logs) and the learning rate."""

  INTERVALS = ('log_every',)

  def on_train_begin(self, logs=None):
    self._tic, self._tic_step = time.perf_counter(), self.run.step

  def on_train_batch_end(self, batch, logs=None):
    run = self.run
    if not (self.due() or run.step == run.cfg.num_steps):
      return
    rate = (run.step - self._tic_step) / (time.perf_counter() - self._tic)
    self._tic, self._tic_step = time.perf_counter(), run.step
    with run.writer.as_default(step=run.step):
      for k, v in logs.items():
        tf.summary.scalar(k, v)
      tf.summary.scalar('steps_per_second', rate)
      tf.summary.scalar('learning_rate', float(run.optimizer.learning_rate))
    logs['steps_per_second'] = rate

  def on_train_end(self, logs=None):
    self.run.writer.flush()


class ProgressBar(RunHook):
  """Keras' progress bar (bound, KL, beta), updated every `log_every`."""

  INTERVALS = ('log_every',)

  SHOWN = ('bound', 'kl', 'beta')

  def on_train_begin(self, logs=None):
    self._bar = keras.utils.Progbar(
        self.run.cfg.num_steps, verbose=1 if self.run.verbose else 0,
        stateful_metrics=list(self.SHOWN))
    self._bar.update(self.run.step)

  def on_train_batch_end(self, batch, logs=None):
    run = self.run
    if self.due() or run.step == run.cfg.num_steps:
      self._bar.update(run.step, [(k, logs[k]) for k in self.SHOWN])

  def on_train_end(self, logs=None):
    self._bar.update(self.run.step, finalize=True)  # Ends the line.


class SampleGrids(RunHook):
  """A grid of `images.GRID_SAMPLES` samples in TensorBoard every
  `image_every` steps."""

  INTERVALS = ('image_every',)

  def on_train_batch_end(self, batch, logs=None):
    run = self.run
    if run.chief and self.due():
      with run.writer.as_default(step=run.step):
        means, _ = run.model.sample(images.GRID_SAMPLES,
                                    seed=(run.cfg.seed, run.step))
        tf.summary.image('samples', images.grid(means.numpy())[None])


class LogNormalizerRefresh(RunHook):
  """`RefreshLogNormalizer` every `log_z_every` steps; at the last step the
  monitored bound is moved to the fresh log Z (`refresh_bound`), which is
  saved with the checkpoint."""

  INTERVALS = ('log_z_every',)

  def on_train_batch_end(self, batch, logs=None):
    run = self.run
    if self.due():
      RefreshLogNormalizer.refresh(run.model, run.cfg.seed, run.step)
    if run.last:
      refresh_bound(run.model, logs, (run.cfg.seed, run.step))


def validation_score(model, images_, num_samples, seed, step, strategy=None):
  """-L_k on `images_` (mean and its standard error), seeded by the step;
  split over the replicas of `strategy` (`evaluation.per_image_nll`)."""
  nll = evaluation.per_image_nll(model, images_, num_samples,
                                 batch_size=evaluation.BATCH_SIZE,
                                 seed=(seed * 1_000_003 + step) % (2**31 - 1),
                                 strategy=strategy)
  summary = evaluation.summarize(nll, num_samples)
  return summary['nll'], summary['stderr']


class Validation(RunHook):
  """Scores the validation split every `validate_every` steps and at the
  end, and keeps the best-scoring step as the checkpoint 'best'.

  The paper keeps the checkpoint that scores best on the validation split.
  The score is the importance-weighted bound (`validation_samples`
  samples, a seed fixed per step) on the first `validation_images` images,
  after refreshing the prior's log Z (the same quick AIS at the same step,
  so a resumed run selects the same checkpoint).
  """

  INTERVALS = ('validate_every',)

  def __init__(self, run, images_):
    super().__init__(run)
    self.images = images_

  def on_train_batch_end(self, batch, logs=None):
    run, cfg = self.run, self.run.cfg
    if not (self.due() or run.step == cfg.num_steps):
      return  # Not when stopped by a signal: the checkpoint comes first.
    if not run.last:  # At the last step log Z was just refreshed.
      run.model.prior.refresh_log_normalizer(
          ais_chains=MONITOR_AIS_CHAINS,
          ais_temperatures=MONITOR_AIS_TEMPERATURES,
          seed=(cfg.seed, run.step))
    nll, stderr = validation_score(run.model, self.images,
                                   cfg.validation_samples, cfg.seed,
                                   run.step, run.strategy)
    with run.writer.as_default(step=run.step):
      tf.summary.scalar('validation_nll', nll)
    if run.best.better(nll):
      run.save(lambda: run.best.keep(run.step, nll, stderr, len(self.images),
                                     cfg.validation_samples))
    logs['validation_nll'] = nll


class Checkpoints(RunHook):
  """Saves a checkpoint every `checkpoint_every` steps and at the last;
  a failed save stops training with `CheckpointSaveError`."""

  INTERVALS = ('checkpoint_every',)

  def on_train_batch_end(self, batch, logs=None):
    if self.run.last or self.due():
      self.run.save(self._save)

  def _save(self):
    run = self.run
    previous = run.manager.latest_checkpoint
    try:
      return run.manager.save(checkpoint_number=run.step)
    except (OSError, tf.errors.OpError) as e:
      run_directory.remove_leftovers(run.manager.directory)
      reason = str(e).splitlines()[0] if str(e) else type(e).__name__
      kept = (f'the previous checkpoint, {previous}, is kept' if previous else
              'there is no earlier checkpoint, so a rerun starts from step 0')
      raise CheckpointSaveError(
          f'Could not save the checkpoint of step {run.step} in '
          f'{run.manager.directory} ({reason}); {kept}. Free disk space '
          'or fix the permissions, then rerun the same command to '
          f'{"resume" if previous else "start again"}.') from None


def default_hooks(run, train_mean, binary, validation_images=None):
  """`dvae-train`'s hooks, in the order they run after a step."""
  hooks = [DivergenceGuard(run, train_mean, binary), Scalars(run),
           ProgressBar(run), SampleGrids(run), LogNormalizerRefresh(run)]
  if run.cfg.validate_every:
    hooks.append(Validation(run, validation_images))
  return hooks + [Checkpoints(run)]


def say(verbose, text):
  if verbose:
    print(text, file=sys.stderr, flush=True)

