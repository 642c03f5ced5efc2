"""Bad flags and bad files given to the binaries: one line, exit status 1 or 2.

Each case runs a binary (all cases at once, a few in parallel, each forked
from one process that imported TensorFlow: `tests.forked_binaries`) and
expects the documented exit status (2 for flags that do not parse, 1 for any
other error), no traceback, and a last stderr line
`error: ...` containing the given text. Bad dataset files are in
tests/test_data_files.py; serving requests in tests/test_export.py.
"""

import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

from dvae_tf import models
from dvae_tf import training
from tests import forked_binaries

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The module fixture runs every case's binary: minutes on two loaded cores,
# more than one test's default timeout.
pytestmark = pytest.mark.timeout(1800)
TRAIN_FLAGS = ('--dataset=sample', '--struct=1-layer-lin', '--num_steps=2',
               '--batch_size=10')
# The flags of the run in `good` (trained by `results`).
GOOD_FLAGS = TRAIN_FLAGS + ('--units_per_group=8', '--image_every=0',
                            '--log_z_every=0')


def _run_dir(tmp, name, edit):
  """A copy of the trained run with `edit(run_dir)` applied."""
  run_dir = os.path.join(tmp, name)
  shutil.copytree(os.path.join(tmp, 'good'), run_dir)
  edit(run_dir)
  return run_dir


def _write(path, text):
  with open(path, 'w') as f:
    f.write(text)


def _add_unknown_key(run_dir):
  path = os.path.join(run_dir, 'config.json')
  with open(path) as f:
    record = json.load(f)
  record['model']['colour'] = 'red'
  _write(path, json.dumps(record))


def _edit_units(run_dir):
  path = os.path.join(run_dir, 'config.json')
  with open(path) as f:
    record = json.load(f)
  record['model']['units_per_group'] = 9
  _write(path, json.dumps(record))


_SEED = 'seed must be an integer in [0, 2147483647] (2**31 - 1)'
# A folder name that is not UTF-8 (byte 0xff, as Python passes it on).
NOT_UTF8 = 'run\udcff'

# Cases whose flags do not parse: exit status 2; every other case exits 1.
UNPARSED = ('unparsable value', 'unknown flag', 'missing required flag')

# (name, binary, arguments given the temporary folder, expected text or a
# function of the temporary folder giving it).
CASES = [
    ('unparsable value', 'train.py', lambda t: ['--num_steps=abc',
                                                f'--run_dir={t}/a'],
     "flag --num_steps=abc"),
    ('unknown flag', 'train.py', lambda t: ['--num_stepz=3',
                                            f'--run_dir={t}/a'],
     'Unknown command line flag'),
    ('missing required flag', 'evaluate.py', lambda t: [],
     'run_dir'),
    ('negative KL warm-up', 'train.py', lambda t: [
        *TRAIN_FLAGS, '--kl_anneal_fraction=-1', f'--run_dir={t}/a'],
     'kl_anneal_fraction must lie in [0, 1]'),
    ('negative weight decay', 'train.py', lambda t: [
        *TRAIN_FLAGS, '--weight_decay=-1', f'--run_dir={t}/a'],
     'weight_decay must be >= 0'),
    ('negative image interval', 'train.py', lambda t: [
        *TRAIN_FLAGS, '--image_every=-1', f'--run_dir={t}/a'],
     'image_every must be >= 0'),
    # Accepted, then hours per step / the machine's memory filled.
    ('sweeps past their bound', 'train.py', lambda t: [
        *TRAIN_FLAGS, '--prior=rbm', '--num_gibbs_sweeps=2000000000',
        f'--run_dir={t}/a'],
     'num_gibbs_sweeps=2000000000 is more than 10000 sweeps per training '
     'step'),
    ('a hardware graph too large', 'train.py', lambda t: [
        *TRAIN_FLAGS, '--prior=boltzmann', '--graph=chimera:100000',
        f'--run_dir={t}/a'],
     "graph='chimera:100000' has up to 2.4e+11 couplings, more than the "
     '1e+07'),
    ('unknown preset', 'train.py', lambda t: ['--preset=nope',
                                              f'--run_dir={t}/a'],
     'Unknown preset'),
    ('run_dir is a file', 'train.py', lambda t: [
        *TRAIN_FLAGS, f'--run_dir={t}/a_file'], 'is a file'),
    ('resume with another structure', 'train.py', lambda t: [
        '--dataset=sample', '--struct=2-layer-lin', '--num_steps=2',
        '--batch_size=10', f'--run_dir={t}/resumed_struct'],
     'changed: model.struct'),
    ('resume with another learning rate', 'train.py', lambda t: [
        *GOOD_FLAGS, '--learning_rate=0.1', f'--run_dir={t}/resumed_rate'],
     '--change_optimizer_settings'),
    ('negative max_images', 'evaluate.py', lambda t: [
        f'--run_dir={t}/good', '--max_images=-5'], 'max_images must be >= 0'),
    ('zero batch size', 'evaluate.py', lambda t: [
        f'--run_dir={t}/good', '--batch_size=0'],
     'batch_size must be a positive integer'),
    ('oversized batch', 'evaluate.py', lambda t: [
        f'--run_dir={t}/good', '--batch_size=100000'],
     'use --batch_size of at most'),
    ('zero AIS chains', 'evaluate.py', lambda t: [
        f'--run_dir={t}/good', '--ais_chains=0'],
     'ais_chains must be at least 2'),
    ('config.json not JSON', 'evaluate.py', lambda t: [
        f'--run_dir={t}/bad_json'], 'config.json is not valid JSON'),
    ('config.json with an unknown key', 'sample.py', lambda t: [
        f'--run_dir={t}/unknown_key'], "unknown fields ['colour']"),
    ('config.json deleted, checkpoints kept', 'train.py', lambda t: [
        *TRAIN_FLAGS, f'--run_dir={t}/no_config'],
     'has checkpoints but no config.json'),
    ('train_mean.npy damaged', 'sample.py', lambda t: [
        f'--run_dir={t}/bad_mean'], 'train_mean.npy cannot be read'),
    ('train_mean.npy not finite', 'export.py', lambda t: [
        f'--run_dir={t}/nan_mean', f'--export_dir={t}/export'],
     'train_mean.npy is not the mean image'),
    ('too many samples for the disk', 'sample.py', lambda t: [
        f'--run_dir={t}/good', '--num_samples=2147483647'],
     'GiB free; ask for fewer samples or choose another --output'),
    ('sample output is a device', 'sample.py', lambda t: [
        f'--run_dir={t}/good', '--output=/dev/null'],
     'is not a regular file'),
    ('sample output ends in a slash', 'sample.py', lambda t: [
        f'--run_dir={t}/good', f'--output={t}/no_such_folder/'],
     'is a folder; give the PNG file to write'),
    ('zero export limit', 'export.py', lambda t: [
        f'--run_dir={t}/good', f'--export_dir={t}/export',
        '--max_samples=0'], 'max_samples must be a positive integer'),
    # Seeds and counts past int32 would wrap (2**32 to seed 0).
    ('seed past int32 (train)', 'train.py', lambda t: [
        *TRAIN_FLAGS, '--seed=4294967296', f'--run_dir={t}/a'], _SEED),
    ('seed past int32 (evaluate)', 'evaluate.py', lambda t: [
        f'--run_dir={t}/good', '--seed=4294967296'], _SEED),
    ('seed past int32 (sample)', 'sample.py', lambda t: [
        f'--run_dir={t}/good', '--seed=4294967296'], _SEED),
    ('negative seed (sample)', 'sample.py', lambda t: [
        f'--run_dir={t}/good', '--seed=-1'], _SEED),
    ('seed past int32 (export)', 'export.py', lambda t: [
        f'--run_dir={t}/good', f'--export_dir={t}/export',
        '--seed=4294967296'], _SEED),
    ('importance samples past int32', 'evaluate.py', lambda t: [
        f'--run_dir={t}/good', '--num_importance_samples=2147483648'],
     'num_importance_samples must be a positive integer and at most '
     '2147483647'),
    ('export version past int64', 'export.py', lambda t: [
        f'--run_dir={t}/good', f'--export_dir={t}/export',
        '--version=99999999999999999999'],
     'version must be a positive integer and at most 9223372036854775807'),
    # Paths that cannot be written.
    ('sample output is a folder', 'sample.py', lambda t: [
        f'--run_dir={t}/good', f'--output={t}'],
     'is a folder; give the PNG file to write'),
    ('export_dir is a file', 'export.py', lambda t: [
        f'--run_dir={t}/good', f'--export_dir={t}/a_file'],
     'is a file, not a directory'),
    ('run_dir not UTF-8', 'train.py', lambda t: [
        *TRAIN_FLAGS, f'--run_dir={t}/{NOT_UTF8}'],
     'is not valid UTF-8'),
    # A 0 that would silently mean the structure's default.
    ('units_per_group of 0', 'train.py', lambda t: [
        *TRAIN_FLAGS, '--units_per_group=0', f'--run_dir={t}/a'],
     '--units_per_group must be a positive integer; got 0'),
    ('hidden_units of 0', 'train.py', lambda t: [
        *TRAIN_FLAGS, '--hidden_units=0', f'--run_dir={t}/a'],
     '--hidden_units must be a positive integer; got 0'),
    ('config.json edited to another model', 'evaluate.py', lambda t: [
        f'--run_dir={t}/edited'],
     lambda t: f'error: {t}/edited/config.json was changed after training '
     f'wrote it (its sha256 is not the one in {t}/edited/config.sha256); it '
     'records how the checkpoints were trained: put back the original, or '
     f'delete {t}/edited/config.sha256 if the edit is deliberate.'),
    ('config.json edited to another model, checksum deleted', 'evaluate.py',
     lambda t: [f'--run_dir={t}/edited_deliberately'],
     "weight 0 (prior/first_logits) has shape [9] in the model config.json "
     "describes but [8] in the checkpoint. Was it edited? Put back"),
    # The benchmark's inputs, checked before any suite runs.
    ('benchmark with no suites', 'benchmark.py', lambda t: [
        '--suites=', f'--report_dir={t}/reports'], '--suites is empty'),
    ('benchmark data damaged', 'benchmark.py', lambda t: [
        '--suites=training', '--quick', f'--data_dir={t}/bad_data',
        f'--report_dir={t}/reports'], 'mnist.npz'),
    ('benchmark reference missing', 'benchmark.py', lambda t: [
        '--suites=training', '--quick', f'--reference_python={sys.executable}',
        f'--reference_script={t}/no_such_script.py',
        f'--report_dir={t}/reports'],
     'no_such_script.py does not exist'),
    ('benchmark report_dir unwritable', 'benchmark.py', lambda t: [
        '--suites=distributions', '--quick',
        f'--report_dir={t}/a_file/reports'], 'Cannot write to'),
] + [
    # A user error past flag parsing, in every binary that restores a run.
    (f'no run in run_dir ({binary})', binary, lambda t, binary=binary: [
        f'--run_dir={t}/no_such_run', f'--export_dir={t}/export'][
            :2 if binary == 'export.py' else 1],
     lambda t: f"error: No config.json in '{t}/no_such_run'")
    for binary in ('evaluate.py', 'sample.py', 'export.py')
]


@pytest.fixture(scope='module')
def results(tmp_path_factory):
  tmp = str(tmp_path_factory.mktemp('bad_inputs'))
  config = models.ModelConfig(struct='1-layer-lin', units_per_group=8)
  train_config = training.TrainConfig(dataset='sample', num_steps=2,
                                      batch_size=10, image_every=0,
                                      log_z_every=0)
  training.train(config, train_config, os.path.join(tmp, 'good'),
                 verbose=False)
  _write(os.path.join(tmp, 'a_file'), 'not a directory')
  _run_dir(tmp, 'bad_json', lambda d: _write(
      os.path.join(d, 'config.json'), '{"model": '))
  _run_dir(tmp, 'unknown_key', _add_unknown_key)
  _run_dir(tmp, 'no_config', lambda d: os.remove(
      os.path.join(d, 'config.json')))
  _run_dir(tmp, 'bad_mean', lambda d: _write(
      os.path.join(d, 'train_mean.npy'), 'garbage'))
  _run_dir(tmp, 'nan_mean', lambda d: np.save(
      os.path.join(d, 'train_mean.npy'), np.full([28, 28, 1], np.nan)))
  # Copies of their own for the cases that resume a training: each takes
  # its run directory's lock, and the cases run three at a time.
  for name in ('resumed_struct', 'resumed_rate'):
    _run_dir(tmp, name, lambda d: None)
  _run_dir(tmp, 'edited', _edit_units)
  _run_dir(tmp, 'edited_deliberately', lambda d: (
      _edit_units(d), os.remove(os.path.join(d, 'config.sha256'))))
  os.makedirs(os.path.join(tmp, 'bad_data'))
  _write(os.path.join(tmp, 'bad_data', 'mnist.npz'), 'not an archive')

  outs = forked_binaries.run(
      [(binary, args(tmp)) for _, binary, args, _ in CASES], cwd=REPO,
      timeout=1500)
  return tmp, {case[0]: out for case, out in zip(CASES, outs)}


@pytest.mark.parametrize('case', CASES, ids=[c[0] for c in CASES])
def test_bad_input_gives_one_line(results, case):
  name, binary, _, expected = case
  tmp, outs = results
  out = outs[name]
  if callable(expected):  # Text naming the temporary folder.
    expected = expected(tmp)
  assert out.returncode == (2 if name in UNPARSED else 1), (
      name, out.returncode, out.stdout[-1000:])
  assert 'Traceback' not in out.stderr, (name, out.stderr[-3000:])
  lines = [l for l in out.stderr.splitlines() if l.strip()]
  assert lines and lines[-1].startswith('error: '), (name, out.stderr[-3000:])
  assert expected in lines[-1], (name, lines[-1])
  # No flag help: the message is the only line the binary itself prints.
  assert not any(l.lstrip().startswith('--') for l in lines), (
      name, out.stderr[-3000:])
  # Nor TensorFlow's or absl's warnings (glog-style 'W0000 ...', 'WARNING:').
  assert not [l for l in lines if re.match(r'[IWE]\d{4} |WARNING', l)], (
      name, out.stderr[-3000:])


def test_a_run_dir_not_in_utf8_is_not_created(results):
  tmp, _ = results
  assert NOT_UTF8 not in os.listdir(tmp)


def test_benchmark_data_missing_from_the_cache_fails_before_any_suite(
    tmp_path):
  """Without --data_dir the training suite's MNIST comes from Keras' cache;
  an empty cache and a failed download end the run before the first
  suite, not after it."""
  env = dict(os.environ, KERAS_HOME=str(tmp_path / 'keras'),
             https_proxy='http://127.0.0.1:9', HTTPS_PROXY='http://127.0.0.1:9')
  out = subprocess.run(
      [sys.executable, os.path.join(REPO, 'bin', 'benchmark.py'),
       '--suites=distributions,training', '--quick',
       f'--report_dir={tmp_path}/reports'],
      capture_output=True, text=True, cwd=REPO, timeout=600, check=False,
      env=env)
  assert out.returncode == 1, out.stderr[-2000:]
  assert 'Traceback' not in out.stderr
  last = out.stderr.strip().splitlines()[-1]
  assert last.startswith("error: Dataset 'mnist_dynamic' needs mnist.npz")
  assert '== distributions' not in out.stdout
