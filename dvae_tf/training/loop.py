"""The training loop of `dvae-train`: steps, then hooks, checkpointed.

`train(model_config, train_config, run_dir)` trains the model a config
describes on its dataset and leaves in `run_dir` (`dvae_tf.run_directory`):

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
(`dvae_tf.run_directory`): one training at a time holds its lock; it must be
writable before training starts; config.json is written, atomically, only
once the run is known to match its checkpoints and its step to fit in memory
(`dvae_tf.training.memory`: a `num_iw_train` too large is one line); a
checkpoint that does not
read back is set aside with a warning and the one before it used; a failed
save stops training with `CheckpointSaveError`, keeping the previous one.

Training stops with `TrainingDivergedError`, before anything is saved after
the bad step, when the loss becomes NaN or infinite; when the update leaves
a NaN or an infinity in any variable a checkpoint holds (model weights,
persistent chains, optimizer slots; checked after every step and again
before every save); when a batch holds pixels outside the dataset's range;
when the monitored bound collapses: stays below `COLLAPSE_FACTOR` times the
bound of a model that ignores its latents (`reference_bound`) for
`COLLAPSE_STEPS` steps, or is below it where a checkpoint may be saved (one
batch can dip below it and recover); or when it is
positive on binary pixels, which no model can reach (log p(x) <= 0), even
after refreshing a stale log Z. So every checkpoint kept holds finite
values, the error names the newest one, and rerunning resumes from it.

The loop itself only steps and calls hooks (`dvae_tf.training.hooks`), one
per concern, after each call of the step; a call runs several steps (as
many as take `SECONDS_PER_EXECUTION`), never past a step a hook acts at, and
ends after any step the divergence guard must see, so the run is the same,
bit for bit, as one step a call. The hooks are: the divergence guard, TensorBoard scalars, the progress bar,
sample grids, log Z refreshes, validation with the best checkpoint, and
checkpoints. `train(..., callbacks=[...])` adds Keras callbacks of your own.
"""

import contextlib
import dataclasses
import os
import signal
import sys
import time

import tensorflow as tf

from dvae_tf import data
from dvae_tf import distribute
from dvae_tf import run_directory
from dvae_tf.training import hooks as hooks_lib
from dvae_tf.training import memory
from dvae_tf.training import step as step_lib


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


# A call of the training step runs as many steps as take about this long
# (`train`'s `steps_per_execution=None`): long enough that its fixed cost
# (Python, the dispatch, the host read) is small beside the steps, short
# enough that a stop signal waits little, and at most MAX_STEPS_PER_EXECUTION.
SECONDS_PER_EXECUTION = 0.2
MAX_STEPS_PER_EXECUTION = 1000


class _Pace:
  """How many steps the next call of the training step runs: a fixed
  `steps_per_execution`, or (None) as many as took `SECONDS_PER_EXECUTION`
  at the rate of the last call, at most doubling from one call to the next
  (the first call, which traces, runs one step); None without `timed`
  (the workers of a cluster, whose clocks differ): one step a call."""

  def __init__(self, steps_per_execution, timed=True):
    if steps_per_execution is not None and not (
        isinstance(steps_per_execution, int) and steps_per_execution >= 1):
      raise ValueError('steps_per_execution must be a positive integer or '
                       f'None (chosen by time); got {steps_per_execution!r}.')
    self.fixed = steps_per_execution or (None if timed else 1)
    self.steps = self.fixed or 1
    self._calls = 0

  def ran(self, steps, seconds):
    """Records a call that ran `steps` steps in `seconds`."""
    self._calls += 1
    if self.fixed or self._calls < 2:  # The first call traces.
      return
    rate = steps / max(seconds, 1e-6)
    self.steps = int(max(1, min(MAX_STEPS_PER_EXECUTION, 2 * self.steps,
                                SECONDS_PER_EXECUTION * rate)))


def train(model_config, train_config, run_dir, data_dir=None, strategy=None,
          verbose=True, change_optimizer=False, callbacks=(),
          steps_per_execution=None):
  """Trains (or resumes training of) a model; see the module docstring.

  Args:
    model_config: a model config of either kind (`models.config`).
    train_config: a `TrainConfig`.
    run_dir: where checkpoints, config and summaries go.
    data_dir: where dataset files are (see `dvae_tf.data`).
    strategy: a `tf.distribute.Strategy` (default: the default strategy;
      `distribute.make_strategy` builds the others). Under a multi-worker
      strategy every worker calls `train` with the same arguments; the chief
      holds the lock and writes the run directory, the others save into
      folders of their own that they delete (`dvae_tf.distribute`).
    verbose: show a progress bar and what resumed.
    change_optimizer: on resume, accept other values of
      `run_directory.OPTIMIZER_FIELDS` (recorded in config.json's `resumed`).
    callbacks: Keras callbacks called after the run's own hooks, with the
      step (from 1) as `batch` and the step's logs (`dvae_tf.training.hooks`),
      after each call of the step, as Keras' `steps_per_execution` does.
    steps_per_execution: the most steps one call of the training step runs
      (`step.make_train_step`); a call also ends at every step a hook acts
      at, and after a step the divergence guard must see. None (the
      default): as many as take about `SECONDS_PER_EXECUTION`, measured as
      the run goes. The steps, and so the run, are the same whatever it is;
      1 calls `callbacks` after every step.

  Returns:
    dict with `step`, `stopped_by` ('num_steps' or a signal name), the last
    `bound` (nats per example; an RBM prior's log Z refreshed at the end),
    and `steps_per_second`.

  Raises:
    TrainingDivergedError: the loss or a checkpointed variable became NaN or
      infinite, a batch left the pixel range, or the bound collapsed or rose above 0
      on binary pixels; the message names the last good checkpoint.
    CheckpointSaveError: a checkpoint could not be written.
    run_directory.RunDirectoryError: the directory is locked or not writable,
      or a write to it failed (a full disk, a folder made read-only).
    distribute.ClusterError: a worker of a multi-worker cluster stopped
      answering (`distribute.peers_lost_as_one_line`).
  """
  strategy = strategy or tf.distribute.get_strategy()
  # Every worker of a cluster must run the same steps a call.
  pace = _Pace(steps_per_execution,
               timed=not distribute.is_multi_worker(strategy))
  distribute.check_divisible('batch_size', train_config.batch_size,
                             strategy.num_replicas_in_sync)
  if not os.path.exists(os.path.join(run_dir, run_directory.TRAIN_MEAN_FILE)):
    # The data are read and checked before anything is written.
    run_directory.run_train_mean(train_config, data_dir)
  run_directory.check_writable(run_dir)
  chief = distribute.is_chief(strategy)
  with (run_directory.write_failures_as_one_line(run_dir),
        run_directory.RunLock(run_dir) if chief else contextlib.nullcontext(),
        distribute.peers_lost_as_one_line(strategy, 'training')):
    return _train_locked(model_config, train_config, run_dir, data_dir,
                         strategy, verbose and chief, change_optimizer,
                         callbacks, pace)


def _train_locked(model_config, cfg, run_dir, data_dir, strategy, verbose,
                  change_optimizer, callbacks, pace):
  """`train` inside the run's lock (on the chief; other workers: without)."""
  run, mean, record = _open_run(model_config, cfg, run_dir, data_dir,
                                strategy, verbose, change_optimizer)
  if run.step >= cfg.num_steps:
    _write_record(run, record)
    return {'step': run.step, 'stopped_by': 'num_steps', 'bound': None,
            'steps_per_second': None}
  dataset = data.make_dataset(cfg.dataset, 'train', cfg.batch_size,
                              data_dir=data_dir, seed=cfg.seed,
                              start_step=run.step)
  iterator = distribute.distribute_global_batches(strategy, dataset,
                                                 cfg.batch_size)
  hooks = hooks_lib.default_hooks(
      run, mean, data.is_binary(cfg.dataset),
      _validation_images(cfg, data_dir))
  halts = hooks[0].suspect  # The `DivergenceGuard`'s.
  train_step = step_lib.make_train_step(run.model, run.optimizer, cfg,
                                        strategy, halts)
  memory.check_step_fits(
      train_step, iterator, cfg, strategy,
      lambda k: step_lib.make_train_step(
          run.model, run.optimizer, dataclasses.replace(cfg, num_iw_train=k),
          strategy, halts))
  _write_record(run, record)
  own_hooks = hooks
  hooks = hooks + list(callbacks)
  for hook in hooks:
    hook.set_model(run.model)
    hook.set_params({'epochs': 1, 'steps': cfg.num_steps, 'verbose': 0})
    hook.on_train_begin()
  stopped_by, logs = 'num_steps', {}
  with _StopSignal() as stop:
    while run.step < cfg.num_steps:
      steps = min(pace.steps, min(hook.next_step(run.step)
                                  for hook in own_hooks) - run.step)
      tic = time.perf_counter()
      logs = step_lib.read_metrics(train_step(
          iterator, tf.constant(float(stop.received is not None)),
          tf.constant(steps, tf.int32)))
      steps = logs.pop('steps')
      pace.ran(steps, time.perf_counter() - tic)
      stop_requested = logs.pop('stop') > 0
      run.step += steps
      run.last = stop_requested or run.step == cfg.num_steps
      for hook in hooks:
        hook.on_train_batch_end(run.step, logs)
      if stop_requested:
        stopped_by = stop.received or 'a signal to another worker'
        break
  for hook in hooks:
    hook.on_train_end(logs)
  distribute.barrier(strategy)  # The chief's last save is on disk.
  return {'step': run.step, 'stopped_by': stopped_by,
          'bound': logs.get('bound'),
          'steps_per_second': logs.get('steps_per_second')}


def _open_run(model_config, cfg, run_dir, data_dir, strategy, verbose,
              change_optimizer):
  """(the `TrainingRun` at its newest checkpoint, the training mean, the
  config record to write: `run_directory.check_run_config`)."""
  chief = distribute.is_chief(strategy)
  record = run_directory.check_run_config(run_dir, model_config, cfg,
                                    change_optimizer)
  model, optimizer = run_directory.build_model_and_optimizer(
      model_config, cfg, data_dir, strategy, run_dir, save_mean=chief)
  save_dir = distribute.worker_dir(run_dir, strategy)
  directory = run_directory.checkpoint_dir(save_dir)
  if chief:
    for path in (run_directory.remove_leftovers(directory) +
                 run_directory.remove_leftovers(run_directory.best_dir(run_dir))):
      hooks_lib.say(verbose, f'Removed {path}, left by an interrupted save.')
  distribute.remove_worker_dir(run_dir, strategy)
  checkpoint = run_directory.make_checkpoint(model, optimizer)
  latest = run_directory.restorable_checkpoint(
      run_dir, warn=lambda line: print(line, file=sys.stderr, flush=True),
      quarantine=chief)
  if latest:
    run_directory.check_checkpoint_matches(model, latest, run_dir)
    checkpoint.restore(latest)
  start = int(optimizer.iterations.numpy())
  if latest:
    hooks_lib.say(verbose, f'Resuming from step {start} ({latest}).')
  writer = (tf.summary.create_file_writer(os.path.join(run_dir, 'train'))
            if chief else tf.summary.create_noop_writer())
  run = hooks_lib.TrainingRun(
      model=model, optimizer=optimizer, cfg=cfg, strategy=strategy,
      chief=chief, run_dir=run_dir, save_dir=save_dir,
      manager=tf.train.CheckpointManager(
          checkpoint, directory, max_to_keep=run_directory.KEPT_CHECKPOINTS),
      best=run_directory.BestCheckpoint(checkpoint, save_dir,
                                  record=run_directory.read_best(run_dir)),
      writer=writer, verbose=verbose, step=start)
  return run, run_directory.run_train_mean(cfg, data_dir, run_dir), record


def _write_record(run, record):
  """Writes config.json (`record`, None: it matches) once the run is known
  to match its checkpoints and its step to fit (the chief only)."""
  if record is not None and run.chief:
    run_directory.write_run_record(run.run_dir, record)


def _validation_images(cfg, data_dir):
  if not cfg.validate_every:
    return None
  images = data.load_images(cfg.dataset, 'validation', data_dir=data_dir)
  return images[:cfg.validation_images] if cfg.validation_images else images
