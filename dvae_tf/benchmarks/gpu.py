"""The GPU check: the training suite's speed cells and a short training on
the GPU, graph against XLA, in one report.

  dvae-benchmark --suites=gpu --data_dir=../shared/data

On a machine with a GPU it times the Table 2 step (`training` suite's model:
the RBM prior with 100 and 1000 chains, and the factorial prior) as a
TensorFlow graph and compiled by XLA, alternating fresh processes; then it
trains `repro_rbm_1_nonlin` for `steps` steps with XLA, scores the result by
IW-100 on the first 1,000 test images, and reports steps per second, the
final bound and the NLL. Without a GPU it stops with one line that says so.
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from dvae_tf.benchmarks import training as training_benchmark

GPU_CELLS = (('rbm', 100), ('rbm', 1000), ('factorial', 100))
TRAINING_PRESET = 'repro_rbm_1_nonlin'


def _gpu_names():
  command = [sys.executable, '-c', 'import tensorflow as tf; print([d.name '
             'for d in tf.config.list_physical_devices("GPU")])']
  out = subprocess.run(command, capture_output=True, text=True, check=False)
  return out.stdout.strip().splitlines()[-1] if out.stdout.strip() else '[]'


def _step_ms(prior, chains, data_dir, steps, jit_compile):
  command = [sys.executable, '-m', 'dvae_tf.binaries.measure',
             '--cell=training_step', f'--prior={prior}', f'--chains={chains}',
             f'--steps={steps}', f'--jit_compile={jit_compile}']
  command.append(f'--data_dir={data_dir}' if data_dir else '--dataset=sample')
  return training_benchmark.run_json(command)['ms_per_step']


def _short_training(data_dir, steps):
  """(steps/s, final bound, IW-100 NLL) of a short XLA training."""
  with tempfile.TemporaryDirectory() as run_dir:
    data = ([f'--data_dir={data_dir}', '--dataset=mnist_dynamic'] if data_dir
            else ['--dataset=sample'])
    start = time.perf_counter()
    subprocess.run([sys.executable, '-m', 'dvae_tf.binaries.train',
                    f'--preset={TRAINING_PRESET}', f'--run_dir={run_dir}',
                    f'--num_steps={steps}', '--jit_compile', '--log_z_every=0',
                    '--image_every=0', *data], check=True,
                   capture_output=True, text=True)
    wall = time.perf_counter() - start
    subprocess.run([sys.executable, '-m', 'dvae_tf.binaries.evaluate',
                    f'--run_dir={run_dir}', '--num_importance_samples=100',
                    '--max_images=1000', *data[:1 if data_dir else 0]],
                   check=True,
                   capture_output=True, text=True)
    with open(os.path.join(run_dir, 'eval_test.json')) as f:
      nll = json.load(f)['nll']
  return steps / wall, nll


def gpu_suite(quick=False, data_dir=None, rounds=3, **unused_options):
  """The speed cells on the GPU and a short training (module docstring)."""
  gpus = _gpu_names()
  if gpus == '[]':
    raise RuntimeError('the gpu suite needs a GPU visible to TensorFlow (pip '
                       'install -e ".[gpu]"; BUILD.md); none was found.')
  rows = []
  for prior, chains in GPU_CELLS[:1] if quick else GPU_CELLS:
    steps = 20 if quick else 200
    graph, xla = [], []
    for _ in range(1 if quick else rounds):
      graph.append(_step_ms(prior, chains, data_dir, steps, False))
      xla.append(_step_ms(prior, chains, data_dir, steps, True))
    rows.append({'prior': prior, 'chains': chains,
                 'graph_ms': statistics.median(graph),
                 'xla_ms': statistics.median(xla),
                 'xla_speedup': statistics.median(
                     [g / x for g, x in zip(graph, xla)])})
  rate, nll = _short_training(data_dir, 50 if quick else 2000)
  training = [{'preset': TRAINING_PRESET, 'jit_compile': True,
               'steps_per_second_with_startup': rate,
               'iw100_nll_first_1000_test_images': nll}]
  return {'tables': {'gpu_step': rows, 'gpu_training': training},
          'summary': {'gpus': gpus,
                      'min_xla_speedup': min(r['xla_speedup'] for r in rows),
                      'short_training_nll': nll}}
