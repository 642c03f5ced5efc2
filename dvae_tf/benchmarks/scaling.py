"""Scaling efficiency of the training step over replicas (`dvae_tf.distribute`).

Efficiency with N replicas = (images/s of N replicas at N times the batch) /
(N x images/s of one replica): 1 is perfect scaling, what remains is the
cost of the all-reduces, of the replicas' shared input pipeline and of their
synchronisation. On a CPU-only machine it is an overhead check, one core per
replica: one replica pinned to one core against

- 'logical': one process, `MirroredStrategy` over N logical CPU devices,
  pinned to N cores with N threads;
- 'workers': N local processes, `MultiWorkerMirroredStrategy` with a
  `TF_CONFIG` cluster on localhost ports, each pinned to a core of its own.

With `strategy='mirrored'` (a machine with N GPUs) it measures real
devices: 'gpus', `MirroredStrategy` over N GPUs, against one GPU.

It also measures the cost of `--deterministic_ops`
(`tf.config.experimental.enable_op_determinism`, off by default): images/s
of one replica with it over images/s without, in the same rounds.

Models: the Table 2 feed-forward model (1 nonlinear layer, RBM prior with 100
persistent chains and 40 sweeps, batch 100 per replica) and DVAE++ at the
reduced width of `dvaepp_cpu` (batch 32 per replica), on the bundled sample
(step time does not depend on the pixels). Each measurement is a fresh
process (threads and devices are fixed when TensorFlow starts), and the
configurations alternate within each round; an efficiency is the median of
the rounds' ratios.

  python -m dvae_tf.binaries.measure --cell=scaling --model=feed_forward \
      --replicas=2 --mode=logical      # one measurement, a JSON line
"""

import json
import os
import socket
import subprocess
import sys
import time

import numpy as np

from dvae_tf.benchmarks import training as training_benchmark

MODELS = {
    'feed_forward': dict(
        model=dict(training_benchmark.MODEL, num_chains=100),
        train=dict(training_benchmark.TRAIN, dataset='sample'), steps=60),
    'dvaepp': dict(preset='dvaepp_cpu', train=dict(dataset='sample'),
                   steps=12),
}
MODES = {'default': ('logical', 'workers'), 'mirrored': ('gpus',)}


def _configs(name):
  """(model config, train config) of MODELS[name], batch per replica."""
  # pylint: disable=g-import-not-at-top
  from dvae_tf import presets
  from dvae_tf.models import config as config_lib
  spec = MODELS[name]
  if 'preset' in spec:
    preset = presets.get_preset(spec['preset'])
    model = config_lib.config_from_dict(preset['model'])
    train = dict(preset['train'], **spec['train'])
  else:
    model = config_lib.ModelConfig(**spec['model'])
    train = dict(spec['train'])
  return model, train


def images_per_second(name, replicas, strategy, steps, warmup=5):
  """(images per second, cores busy) of the step `training.train` runs,
  under `strategy` with `replicas` replicas (the global batch is `replicas`
  times the model's); cores busy = this process's CPU seconds per second
  over the timed steps."""
  # pylint: disable=g-import-not-at-top
  from dvae_tf import data
  from dvae_tf import distribute
  from dvae_tf import run_directory
  from dvae_tf import training
  model_config, train = _configs(name)
  train['batch_size'] *= replicas
  train_config = training.TrainConfig(**train)
  model, optimizer = run_directory.build_model_and_optimizer(
      model_config, train_config, None, strategy)
  step = training.make_train_step(model, optimizer, train_config, strategy)
  iterator = distribute.distribute_global_batches(
      strategy, data.make_dataset(train_config.dataset, 'train',
                                  train_config.batch_size, seed=0),
      train_config.batch_size)
  for _ in range(warmup):
    training.read_metrics(step(iterator))
  start, cpu = time.perf_counter(), time.process_time()
  for _ in range(steps):
    training.read_metrics(step(iterator))
  wall = time.perf_counter() - start
  return (train_config.batch_size * steps / wall,
          (time.process_time() - cpu) / wall)


def _taskset(cores):
  if os.path.exists('/usr/bin/taskset'):
    return ['taskset', '-c', ','.join(str(c) for c in cores)]
  return []


def _child(name, mode, replicas, steps, deterministic=False):
  return [sys.executable, '-m', 'dvae_tf.binaries.measure', '--cell=scaling',
          f'--model={name}', f'--mode={mode}', f'--replicas={replicas}',
          f'--steps={steps}',
          f'--deterministic={deterministic}']


def _json_line(output, command):
  lines = [l for l in output.splitlines() if l.startswith('{')]
  if not lines:
    raise RuntimeError(f'{" ".join(command)} printed no result: '
                       f'{output[-2000:]}')
  return json.loads(lines[-1])


def _measure(name, mode, replicas, steps, gpus=False, deterministic=False):
  """(images/s, cores busy) of one configuration, in fresh processes."""
  if mode != 'workers':
    cores = [0] if mode == 'one' else list(range(replicas))
    command = _child(name, mode, replicas, steps, deterministic)
    if mode in ('one', 'logical') and not gpus:
      command = _taskset(cores) + command
    out = subprocess.run(command, capture_output=True, text=True, check=False)
    if out.returncode:
      raise RuntimeError(f'{" ".join(command)} failed: {out.stderr[-2000:]}')
    result = _json_line(out.stdout, command)
    return result['images_per_second'], result['cores_busy']
  sockets = [socket.socket() for _ in range(replicas)]
  for s in sockets:
    s.bind(('localhost', 0))
  cluster = {'worker': [f'localhost:{s.getsockname()[1]}' for s in sockets]}
  for s in sockets:
    s.close()
  procs = []
  for index in range(replicas):
    env = dict(os.environ, TF_CONFIG=json.dumps(
        {'cluster': cluster, 'task': {'type': 'worker', 'index': index}}))
    command = _taskset([index]) + _child(name, mode, replicas, steps)
    procs.append((command, subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)))
  results = []
  for command, proc in procs:
    out, err = proc.communicate()
    if proc.returncode:
      raise RuntimeError(f'{" ".join(command)} failed: {err[-2000:]}')
    results.append(_json_line(out, command))
  # Every worker times the same global steps; the cores are all workers'.
  return (results[0]['images_per_second'],
          sum(r['cores_busy'] for r in results))


def scaling_suite(quick=False, data_dir=None, rounds=3, replicas=2,
                  strategy='default', **_):
  """Efficiency of each model and mode, medians of interleaved rounds."""
  del data_dir  # Synthetic data: the step time does not depend on it.
  if strategy not in MODES:
    raise ValueError(f'The scaling suite measures --strategy in '
                     f'{sorted(MODES)} on one machine; got {strategy!r}.')
  modes = ('one',) + MODES[strategy]
  gpus = strategy == 'mirrored'
  rows, determinism = [], []
  for name, spec in MODELS.items():
    steps = 3 if quick else spec['steps']
    rates = {mode: [] for mode in modes + ('deterministic',)}
    busy = {mode: [] for mode in modes}
    for _ in range(1 if quick else rounds):
      for mode in modes:
        rate, cores = _measure(name, mode, 1 if mode == 'one' else replicas,
                               steps, gpus)
        rates[mode].append(rate)
        busy[mode].append(cores)
      rates['deterministic'].append(_measure(
          name, 'gpus' if gpus else 'one', 1, steps, gpus,
          deterministic=True)[0])
    one = np.array(rates['one'])
    for mode in modes[1:]:
      efficiency = np.array(rates[mode]) / (replicas * one)
      rows.append({'model': name, 'mode': mode, 'replicas': replicas,
                   'images_per_second': float(np.median(rates[mode])),
                   'one_replica_images_per_second': float(np.median(one)),
                   'efficiency': float(np.median(efficiency)),
                   'efficiency_rounds': efficiency.tolist(),
                   'cores_busy': float(np.median(busy[mode])),
                   'one_replica_cores_busy': float(np.median(busy['one']))})
    relative = np.array(rates['deterministic']) / one
    determinism.append({
        'model': name, 'device': 'gpu' if gpus else 'cpu',
        'images_per_second': float(np.median(rates['deterministic'])),
        'nondeterministic_images_per_second': float(np.median(one)),
        'relative_speed': float(np.median(relative)),
        'relative_speed_rounds': relative.tolist()})
  return {'tables': {'scaling': rows, 'op_determinism': determinism},
          'summary': {'min_efficiency': min(r['efficiency'] for r in rows),
                      'min_determinism_relative_speed': min(
                          r['relative_speed'] for r in determinism)}}


def measure_here(model, mode, replicas, steps, deterministic=False):
  """One configuration measured in this process (a fresh one: `_child`).

  Sets op determinism and, on a CPU, the thread counts before TensorFlow
  runs anything, builds the strategy of `mode` ('one', 'logical', 'workers'
  with TF_CONFIG set, or 'gpus') and returns the JSON record of
  `images_per_second`.
  """
  # pylint: disable=g-import-not-at-top
  import tensorflow as tf
  from dvae_tf import distribute
  if deterministic:
    tf.config.experimental.enable_op_determinism()
  if not tf.config.list_physical_devices('GPU'):
    threads = replicas if mode == 'logical' else 1
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
  strategy = {'one': lambda: distribute.make_strategy('default'),
              'gpus': lambda: tf.distribute.MirroredStrategy(
                  [f'/gpu:{i}' for i in range(replicas)]),
              'logical': lambda: distribute.make_strategy(
                  'mirrored', cpu_devices=replicas),
              'workers': lambda: distribute.make_strategy('multi_worker')}[
                  mode]()
  rate, cores = images_per_second(model, replicas, strategy, steps)
  return {'images_per_second': rate, 'cores_busy': cores, 'model': model,
          'mode': mode, 'replicas': replicas}
