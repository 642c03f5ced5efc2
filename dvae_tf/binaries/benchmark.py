"""Runs benchmark suites and writes their reports.

  dvae-benchmark --suites=distributions --report_dir=reports
  dvae-benchmark --suites=scaling          # replicas: logical devices, workers
  dvae-benchmark --suites=scaling --strategy=mirrored   # on a GPU machine
  dvae-benchmark --suites=training --data_dir=../shared/data \
      --reference_python=$TORCHENV/bin/python \
      --reference_script=../shared/peer/reference_torch.py
  dvae-benchmark --suites=gradient_variance --data_dir=../shared/data
  dvae-benchmark --suites=boltzmann        # Gibbs sweeps on hardware graphs
  dvae-benchmark --suites=presets --data_dir=../shared/data \
      --baseline_tree=OLD     # bin/train.py of every preset family, OLD vs now
  dvae-benchmark --suites=evaluation --data_dir=../shared/data   # IW-4000

Each suite prints its tables and writes reports/benchmark_<suite>.json.
Times are medians of interleaved rounds; compare the ratios, which share the
machine's noise, rather than absolute times.
"""

import json
import os
import shutil
import sys

from absl import app
from absl import flags

from dvae_tf import benchmarks
from dvae_tf.binaries import cli
from dvae_tf import data
from dvae_tf import presets
from dvae_tf import run_directory
from dvae_tf.benchmarks import gradient_variance as gradient_variance_suite
from dvae_tf.benchmarks import presets as presets_benchmark
from dvae_tf.benchmarks import training as training_suite

FLAGS = flags.FLAGS
flags.DEFINE_list('suites', ['distributions'],
                  f'Suites to run, from: {", ".join(benchmarks.SUITES)}.')
flags.DEFINE_string('report_dir', 'reports', 'Where the JSON reports go.')
flags.DEFINE_string('data_dir', None, 'Folder with dataset files (suites that '
                    'train on real data).')
flags.DEFINE_bool('quick', False, 'Tiny sizes: a smoke test, not a measurement.')
flags.DEFINE_string('reference_python', None, 'training suite: an interpreter '
                    'that runs --reference_script (e.g. one with torch).')
flags.DEFINE_string('reference_script', None, 'training suite: a reference '
                    'implementation timed in the same run, interleaved (e.g. '
                    '../shared/peer/reference_torch.py).')
flags.DEFINE_string('baseline_tree', None, 'presets suite: a source tree '
                    '(e.g. a worktree of an earlier commit) whose bin/train.py '
                    'is timed beside this one, interleaved.')
flags.DEFINE_list('families', None, 'presets suite: the presets to time, '
                  'from its families (default: all of them).')
flags.DEFINE_integer('rounds', 3, 'Interleaved rounds of the suites that '
                     'alternate candidates (training, presets, xla_chains, '
                     'scaling, gpu).')
flags.DEFINE_enum('strategy', 'default', ['default', 'mirrored'],
                  'scaling suite: default (replicas on CPU cores: logical '
                  'devices and local workers) or mirrored (all local GPUs); '
                  'the other suites time one device.')


def _datasets(suites):
  """The datasets the chosen suites read from --data_dir."""
  found = set()
  if {'training', 'xla_chains', 'presets', 'evaluation'} & set(suites):
    found.add(training_suite.TRAIN['dataset'])
  if 'gradient_variance' in suites:
    found.add(presets.get_preset(
        gradient_variance_suite.PRESET)['train']['dataset'])
  return found


def check_flags():
  """Checks the flags before any suite runs (a suite can take an hour).

  Raises:
    app.UsageError, ValueError, FileNotFoundError: no or unknown suites, an
      unwritable --report_dir, a reference given by halves or missing, or
      dataset files missing (from --data_dir or the download cache).
  """
  if not FLAGS.suites:
    raise app.UsageError(f'--suites is empty; name at least one of '
                         f'{sorted(benchmarks.SUITES)}.')
  unknown = [s for s in FLAGS.suites if s not in benchmarks.SUITES]
  if unknown:
    raise app.UsageError(f'--suites: unknown {unknown}; choose from '
                         f'{sorted(benchmarks.SUITES)}.')
  known = [preset for _, preset, _ in presets_benchmark.FAMILIES]
  unknown = [f for f in FLAGS.families or () if f not in known]
  if unknown:
    raise app.UsageError(f'--families: unknown {unknown}; choose from '
                         f'{known}.')
  if FLAGS.rounds < 1:
    raise app.UsageError(f'--rounds must be at least 1; got {FLAGS.rounds}.')
  run_directory.check_directory(FLAGS.report_dir, '--report_dir')
  reference = (FLAGS.reference_python, FLAGS.reference_script)
  if any(reference) and not all(reference):
    raise app.UsageError('Give both --reference_python and '
                         '--reference_script, or neither.')
  if FLAGS.baseline_tree and not os.path.isfile(
      os.path.join(FLAGS.baseline_tree, 'bin', 'train.py')):
    raise FileNotFoundError(f'--baseline_tree={FLAGS.baseline_tree} has no '
                            'bin/train.py; give a checkout of dvae_tf.')
  if all(reference):
    if not shutil.which(FLAGS.reference_python):
      raise FileNotFoundError(f'--reference_python={FLAGS.reference_python} '
                              'is not an executable; give the interpreter '
                              'of the reference\'s environment.')
    if not os.path.isfile(FLAGS.reference_script):
      raise FileNotFoundError(f'--reference_script={FLAGS.reference_script} '
                              'does not exist.')
  # Last, as the slowest check; with or without --data_dir (the download
  # cache): found now, not when the suite that reads it starts.
  for dataset in sorted(_datasets(FLAGS.suites)):
    data.load_images(dataset, 'train', data_dir=FLAGS.data_dir)


def main(argv):
  del argv
  check_flags()
  command = ' '.join(['dvae-benchmark'] + sys.argv[1:])
  for suite in FLAGS.suites:
    report = benchmarks.SUITES[suite](
        quick=FLAGS.quick, data_dir=FLAGS.data_dir,
        reference_python=FLAGS.reference_python,
        reference_script=FLAGS.reference_script, strategy=FLAGS.strategy,
        baseline_tree=FLAGS.baseline_tree, rounds=FLAGS.rounds,
        families=[f for f in presets_benchmark.FAMILIES
                  if f[1] in FLAGS.families] if FLAGS.families else None)
    for name, rows in report['tables'].items():
      print(f'\n== {suite}: {name} ==')
      print(benchmarks.format_table(rows))
    print(f'\nsummary: {json.dumps(report["summary"])}')
    path = benchmarks.write_report(FLAGS.report_dir, suite, report, command)
    print(f'wrote {path}')


def run():
  cli.run(main)


if __name__ == '__main__':
  run()
