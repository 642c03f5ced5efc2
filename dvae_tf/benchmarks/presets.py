"""Steps per second of every preset family through `bin/train.py`, against
a baseline source tree (the code before a change), interleaved.

For each family one preset is trained on dynamic MNIST for 2 W steps, in a
fresh process of `bin/train.py` with TensorBoard images, log Z refreshes and
checkpoints pushed past the end, and the rate it reports for the second
window of W steps (`Scalars`: after tracing and compilation) is read from its
result line. Three candidates alternate `rounds` times: the baseline tree
(its own defaults), and this tree as a TensorFlow graph and compiled by XLA
(`--jit_compile`). A family's speed-ups are the medians of the per-round
ratios, which share the machine's state. One thread runs pinned to one core.

  dvae-benchmark --suites=presets --data_dir=DIR --baseline_tree=OLD
"""

import json
import os
import subprocess
import sys
import tempfile

import numpy as np

from dvae_tf.benchmarks import training as training_benchmark

# (family, preset, W): W steps per timed window, about 10 s on one core.
FAMILIES = (
    ('factorial, joint ELBO', 'table1_joint_exp_1_nonlin', 800),
    ('factorial, marginal ELBO', 'table1_marginal_exp_1_nonlin', 800),
    ('Concrete', 'table1_concrete_1_nonlin', 800),
    ('RBM', 'repro_rbm_1_nonlin', 300),
    ('spike-and-exponential (Rolfe)', 'repro_rolfe_1_nonlin', 300),
    ('DVAE++ (dvaepp_cpu)', 'dvaepp_cpu', 40),
    ('DVAE++ (full MNIST)', 'table3_dvaepp_mnist_dynamic', 4),
)


def train_py_steps_per_second(preset, window, data_dir=None, tree=None,
                              threads=1, extra_flags=()):
  """steps/s that `bin/train.py` of `tree` (default: this package) reports
  for the second window of `window` steps of `preset`."""
  if tree:
    command = [sys.executable, os.path.join(tree, 'bin', 'train.py')]
    env = dict(os.environ, PYTHONPATH=os.path.abspath(tree))
  else:
    command = [sys.executable, '-m', 'dvae_tf.binaries.train']
    env = None
  model = ['--model=dvaepp'] if preset.startswith(('dvaepp', 'table3')) else []
  with tempfile.TemporaryDirectory() as run_dir:
    flags = model + [
        f'--preset={preset}', f'--model_dir={run_dir}',
        f'--num_steps={2 * window}', f'--log_every={window}',
        f'--checkpoint_every={10**6}', '--image_every=0', '--log_z_every=0',
        '--validate_every=0']
    flags.append(f'--data_dir={data_dir}' if data_dir else '--dataset=sample')
    if data_dir:
      flags.append('--dataset=mnist_dynamic')
    result = subprocess.run(
        training_benchmark.pinned(threads) + command + flags +
        list(extra_flags), capture_output=True, text=True, check=False,
        env=env)
  lines = [l for l in result.stdout.splitlines() if '"steps_per_second"' in l]
  if result.returncode or not lines:
    raise RuntimeError(f'{" ".join(command + flags)} failed '
                       f'({result.returncode}): {result.stderr[-2000:]}')
  return json.loads(lines[-1])['steps_per_second']


def presets_suite(quick=False, data_dir=None, baseline_tree=None, rounds=3,
                  families=None, threads=1, tree=None, **unused_options):
  """Steps/s of each family: baseline tree, graph and XLA (of `tree`,
  default this package), interleaved."""
  families = families or (FAMILIES[:1] if quick else FAMILIES)
  candidates = [('graph', tree, ['--nojit_compile']),
                ('xla', tree, ['--jit_compile'])]
  if baseline_tree:
    candidates.insert(0, ('baseline', baseline_tree, []))
  rows = []
  for family, preset, window in families:
    window = 5 if quick else window
    rates = {name: [] for name, _, _ in candidates}
    for _ in range(1 if quick else rounds):
      for name, candidate_tree, extra in candidates:
        rates[name].append(train_py_steps_per_second(
            preset, window, data_dir, candidate_tree, threads, extra))
    row = {'family': family, 'preset': preset, 'threads': threads,
           'graph_steps_per_s': float(np.median(rates['graph'])),
           'xla_steps_per_s': float(np.median(rates['xla'])),
           'xla_over_graph': float(np.median(np.divide(rates['xla'],
                                                       rates['graph'])))}
    if baseline_tree:
      row.update(
          baseline_steps_per_s=float(np.median(rates['baseline'])),
          graph_over_baseline=float(np.median(np.divide(
              rates['graph'], rates['baseline']))),
          xla_over_baseline=float(np.median(np.divide(
              rates['xla'], rates['baseline']))))
    row['rounds'] = rates
    rows.append(row)
  summary = {'min_xla_over_graph': min(r['xla_over_graph'] for r in rows)}
  if baseline_tree:
    summary['best_over_baseline'] = {
        r['preset']: max(r['graph_over_baseline'], r['xla_over_baseline'])
        for r in rows}
  return {'tables': {'presets': rows}, 'summary': summary}
