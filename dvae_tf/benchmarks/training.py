"""The training step of Table 2's model, against a reference implementation.

The configuration is the Table 2 "RBM prior, 1 nonlinear layer" model on
dynamic MNIST: batch 100, batch norm, overlapping exponential smoothing at a
fixed beta of 10, 40 block Gibbs sweeps of the persistent chains per step,
Adam; and the same networks with the factorial prior (the joint ELBO). Each
cell (prior; chains 100 or 1000; 1 core, or 2 threads) is timed in fresh
processes, so that thread settings apply from the start: dvae_tf through
`step_milliseconds` (the step `training.train` runs, several steps a call,
each call with its read of the metrics), as a TensorFlow graph and compiled by XLA
(`TrainConfig.jit_compile`), and compiled by XLA with the batches made
before the timed steps (`xla_prepared`: what the reference's timer
covers, which leaves out making its batches), and, given `reference_python` and
`reference_script`, the reference (e.g. a PyTorch implementation of the same
model), alternating the three `rounds` times. A cell's ratios are the
medians of the per-round ratios, which share the machine's state.

  python -m dvae_tf.binaries.measure --cell=training_step --chains=100 \
      --threads=1 --data_dir=DIR     # one dvae_tf measurement, a JSON line
"""

import json
import os
import subprocess
import sys
import time

import numpy as np

# (prior, persistent chains, threads); one thread runs pinned to one core.
CELLS = (('rbm', 100, 1), ('rbm', 100, 2), ('rbm', 1000, 1), ('rbm', 1000, 2),
         ('factorial', 100, 1), ('factorial', 100, 2))
MODEL = dict(struct='1-layer-nonlin', prior='rbm', smoothing='exponential',
             batch_norm=True, num_gibbs_sweeps=40)
TRAIN = dict(dataset='mnist_dynamic', batch_size=100, beta_start=10.,
             beta_end=10., num_steps=100_000)


# Steps a timed call runs (`training.train` runs about 0.2 s a call:
# `loop.SECONDS_PER_EXECUTION`; 10 steps of the Table 2 model take 0.1-0.5 s).
STEPS_PER_CALL = 10


def step_milliseconds(chains, data_dir, steps, warmup=30,
                      train_overrides=None, prior='rbm',
                      steps_per_call=STEPS_PER_CALL, prepared_input=False):
  """Median milliseconds per training step, as `training.train` runs it.

  Builds the model, optimizer, input pipeline and `tf.function` step with
  the functions `training.train` uses and times about `steps` steps in
  calls of `steps_per_call` steps, each followed by the read of its metrics
  (which `train` does after every call): the median call time over
  `steps_per_call`.

  With `prepared_input`, the batches the timed steps read were made (read,
  shuffled, binarized) during the untimed warm-up and are replayed from
  memory, so the input pipeline's work, which otherwise shares the cores
  with the step, is left out of the time, as the reference leaves out
  making its batches.
  """
  # pylint: disable=g-import-not-at-top
  import tensorflow as tf
  from dvae_tf import data
  from dvae_tf import run_directory
  from dvae_tf import training
  from dvae_tf.models import config as config_lib
  model_config = config_lib.ModelConfig(**dict(MODEL, num_chains=chains,
                                                prior=prior))
  train_config = training.TrainConfig(**dict(TRAIN,
                                             **(train_overrides or {})))
  strategy = tf.distribute.get_strategy()
  model, optimizer = run_directory.build_model_and_optimizer(
      model_config, train_config, data_dir, strategy)
  step = training.make_train_step(model, optimizer, train_config, strategy)
  dataset = data.make_dataset(train_config.dataset, 'train',
                              train_config.batch_size, data_dir=data_dir,
                              seed=0)
  warm_calls = max(2, -(-warmup // steps_per_call))
  if prepared_input:
    dataset = dataset.take(warm_calls * steps_per_call).cache().repeat()
  iterator = iter(strategy.experimental_distribute_dataset(dataset))
  per_call = tf.constant(steps_per_call)
  times = []
  for _ in range(warm_calls + max(3, -(-steps // steps_per_call))):
    start = time.perf_counter()
    training.read_metrics(step(iterator, tf.constant(0.), per_call))
    times.append(time.perf_counter() - start)
  return 1e3 * float(np.median(times[warm_calls:])) / steps_per_call


def fit_and_loop_milliseconds(chains, data_dir, steps, rounds=3, warmup=30,
                              train_overrides=None):
  """Median ms per step of Keras' `fit` and of the training loop's step,
  measured alternately in one process (`rounds` times `steps` steps each).

  Both train the same model from the same initial state: the loop's step as
  `step_milliseconds` times it, `fit` as the time between Keras' batch-end
  callbacks (its own step, `DiscreteVAE.train_step`, and its bookkeeping).
  """
  # pylint: disable=g-import-not-at-top
  import keras
  import tensorflow as tf
  from dvae_tf import data
  from dvae_tf import run_directory
  from dvae_tf import training
  from dvae_tf.models import config as config_lib
  model_config = config_lib.ModelConfig(**dict(MODEL, num_chains=chains))
  train_config = training.TrainConfig(**dict(
      TRAIN, log_z_every=0, **(train_overrides or {})))
  strategy = tf.distribute.get_strategy()
  dataset = data.make_dataset(train_config.dataset, 'train',
                              train_config.batch_size, data_dir=data_dir,
                              seed=0)
  model, optimizer = run_directory.build_model_and_optimizer(
      model_config, train_config, data_dir, strategy)
  step = training.make_train_step(model, optimizer, train_config, strategy)
  iterator = iter(strategy.experimental_distribute_dataset(dataset))
  fit_model, fit_optimizer = run_directory.build_model_and_optimizer(
      model_config, train_config, data_dir, strategy)
  fit_model.compile(optimizer=fit_optimizer, train_config=train_config)

  class Times(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
      stamps.append(time.perf_counter())

  loop, fit = [], []
  for r in range(rounds):
    first = warmup if r == 0 else 2
    times = []
    for _ in range(first + steps):
      start = time.perf_counter()
      training.read_metrics(step(iterator))
      times.append(time.perf_counter() - start)
    loop.extend(times[first:])
    stamps = []
    fit_model.fit(dataset, epochs=1, steps_per_epoch=first + steps,
                  verbose=0, callbacks=[Times()])
    fit.extend(np.diff(stamps)[first - 1:])
  return 1e3 * float(np.median(fit)), 1e3 * float(np.median(loop))


def pinned(threads):
  """`taskset -c 0` for one thread (one core), where taskset exists."""
  if threads == 1 and os.path.exists('/usr/bin/taskset'):
    return ['taskset', '-c', '0']
  return []


def run_json(command):
  """The last JSON line a command prints (RuntimeError if it fails)."""
  result = subprocess.run(command, capture_output=True, text=True,
                          check=False)
  lines = [l for l in result.stdout.splitlines() if l.startswith('{')]
  if result.returncode or not lines:
    raise RuntimeError(f'{" ".join(command)} failed ({result.returncode}): '
                       f'{result.stderr[-2000:]}')
  return json.loads(lines[-1])


def _dvae_tf_ms(prior, chains, threads, data_dir, steps, jit_compile,
                prepared_input=False):
  """One dvae_tf measurement in a fresh process (the bundled sample without
  `data_dir`: a smoke test only)."""
  command = pinned(threads) + [
      sys.executable, '-m', 'dvae_tf.binaries.measure', '--cell=training_step',
      f'--prior={prior}', f'--chains={chains}', f'--threads={threads}',
      f'--steps={steps}', f'--jit_compile={jit_compile}',
      f'--prepared_input={prepared_input}']
  command.append(f'--data_dir={data_dir}' if data_dir else '--dataset=sample')
  return run_json(command)['ms_per_step']


def _reference_ms(python, script, prior, chains, threads, steps):
  command = pinned(threads) + [
      python, script, f'--steps={steps + 50}', f'--threads={threads}',
      f'--chains={chains}', '--gibbs=40', '--beta=10', '--batch=100',
      f'--prior={prior}']
  return run_json(command)['ms_per_step']


# The timed columns of the training suite: (key, jit_compile,
# prepared_input, the row's field for its median ms, the field for its
# median ratio over the reference).
TIMED = (('graph', False, False, 'dvae_tf_ms', 'ratio'),
         ('xla', True, False, 'dvae_tf_xla_ms', 'xla_ratio'),
         ('xla_prepared', True, True, 'dvae_tf_xla_prepared_ms',
          'xla_prepared_ratio'))


def training_suite(quick=False, data_dir=None, reference_python=None,
                   reference_script=None, rounds=3, **unused_options):
  """Step times of every cell, with the reference's where one is given."""
  cells = CELLS[:1] if quick else CELLS
  rows = []
  for prior, chains, threads in cells:
    steps = (20 if quick else 200) if chains == 100 else (10 if quick else 60)
    times = {key: [] for key, *_ in TIMED}
    times['reference'] = []
    for _ in range(1 if quick else rounds):
      for key, jit_compile, prepared, _, _ in TIMED:
        times[key].append(_dvae_tf_ms(prior, chains, threads, data_dir, steps,
                                      jit_compile, prepared))
      if reference_python and reference_script:
        times['reference'].append(_reference_ms(
            reference_python, reference_script, prior, chains, threads,
            steps))
    row = {'prior': prior, 'chains': chains,
           'sweeps': MODEL['num_gibbs_sweeps'] if prior == 'rbm' else 0,
           'threads': threads,
           'xla_speedup': float(np.median(np.divide(times['graph'],
                                                    times['xla'])))}
    for key, _, _, ms_field, ratio_field in TIMED:
      row[ms_field] = float(np.median(times[key]))
      row[f'{key}_ms_rounds'] = times[key]
      if times['reference']:
        row[ratio_field] = float(np.median(np.divide(times[key],
                                                     times['reference'])))
    if times['reference']:
      row.update(reference_ms=float(np.median(times['reference'])),
                 reference_ms_rounds=times['reference'])
    rows.append(row)
  summary = {f'max_{ratio_field}': max(
      (r[ratio_field] for r in rows if ratio_field in r), default=None)
             for *_, ratio_field in TIMED}
  summary['min_xla_speedup'] = min(r['xla_speedup'] for r in rows)
  # Keras' fit against the training loop, 100 chains, both threads.
  command = [sys.executable, '-m', 'dvae_tf.binaries.measure',
             '--cell=fit_vs_loop', '--chains=100', '--threads=2',
             f'--steps={20 if quick else 100}',
             f'--rounds={1 if quick else rounds}']
  command.append(f'--data_dir={data_dir}' if data_dir else '--dataset=sample')
  fit = run_json(command)
  fit_row = {'chains': 100, 'threads': 2, 'fit_ms': fit['fit_ms'],
             'loop_ms': fit['loop_ms'],
             'fit_speed_vs_loop': fit['loop_ms'] / fit['fit_ms']}
  summary['fit_speed_vs_loop'] = fit_row['fit_speed_vs_loop']
  return {'tables': {'training_step': rows, 'fit_vs_loop': [fit_row]},
          'summary': summary}


# Persistent chains of the `xla_chains` suite: the Table 2 model's range,
# from the reproduction presets' 100 to the released code's 1000.
XLA_CHAINS = (100, 200, 300, 500, 1000)


def xla_chains_suite(quick=False, data_dir=None, rounds=3, **unused_options):
  """Whether the default step (`TrainConfig.jit_compile=None`: XLA for the
  RBM prior under overlapping smoothing) is the faster one at every chain
  count: the XLA step against the graph step of the Table 2 model on one
  core, 40 sweeps, `XLA_CHAINS`, fresh processes alternating the two
  `rounds` times. A chain count's speedup is the median of the per-round
  graph/XLA ratios."""
  chains_list = XLA_CHAINS[:1] if quick else XLA_CHAINS
  rows = []
  for chains in chains_list:
    steps = (20 if quick else 150) if chains <= 300 else (10 if quick else 60)
    times = {False: [], True: []}
    for _ in range(1 if quick else rounds):
      for jit_compile in (False, True):
        times[jit_compile].append(_dvae_tf_ms('rbm', chains, 1, data_dir,
                                              steps, jit_compile))
    rows.append({'chains': chains, 'sweeps': MODEL['num_gibbs_sweeps'],
                 'threads': 1,
                 'graph_ms': float(np.median(times[False])),
                 'xla_ms': float(np.median(times[True])),
                 'xla_speedup': float(np.median(np.divide(times[False],
                                                          times[True]))),
                 'graph_ms_rounds': times[False],
                 'xla_ms_rounds': times[True]})
  return {'tables': {'xla_chains': rows},
          'summary': {'min_xla_speedup': min(r['xla_speedup'] for r in rows),
                      'max_xla_speedup': max(r['xla_speedup'] for r in rows)}}
