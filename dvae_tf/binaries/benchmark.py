"""Runs benchmark suites and writes their reports.

  dvae-benchmark --suites=distributions --report_dir=reports
  dvae-benchmark --suites=scaling          # replicas: logical devices, workers
  dvae-benchmark --suites=scaling --strategy=mirrored   # on a GPU machine
  dvae-benchmark --suites=training --data_dir=../shared/data \
      --reference_python=$TORCHENV/bin/python \
      --reference_script=../shared/peer/reference_torch.py
  dvae-benchmark --suites=gradient_variance --data_dir=../shared/data
  dvae-benchmark --suites=boltzmann        # Gibbs sweeps on hardware graphs

Each suite prints its tables and writes reports/benchmark_<suite>.json.
Times are medians of interleaved rounds; compare the ratios, which share the
machine's noise, rather than absolute times.
"""

import json
import sys

from absl import app
from absl import flags

from dvae_tf import benchmarks
from dvae_tf import cli

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
flags.DEFINE_enum('strategy', 'default', ['default', 'mirrored'],
                  'scaling suite: default (replicas on CPU cores: logical '
                  'devices and local workers) or mirrored (all local GPUs); '
                  'the other suites time one device.')


def main(argv):
  del argv
  unknown = [s for s in FLAGS.suites if s not in benchmarks.SUITES]
  if unknown:
    raise app.UsageError(f'--suites: unknown {unknown}; choose from '
                         f'{sorted(benchmarks.SUITES)}.')
  command = ' '.join(['dvae-benchmark'] + sys.argv[1:])
  for suite in FLAGS.suites:
    report = benchmarks.SUITES[suite](
        quick=FLAGS.quick, data_dir=FLAGS.data_dir,
        reference_python=FLAGS.reference_python,
        reference_script=FLAGS.reference_script, strategy=FLAGS.strategy)
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
