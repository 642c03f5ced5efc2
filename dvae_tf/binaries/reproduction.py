"""Rebuilds the tables of REPRODUCTION.md from the tracked evaluation files.

  python bin/reproduction.py            # rewrite the tables, draw the figure
  python bin/reproduction.py --check    # exit 1 if the report has drifted

Reads `reports/runs/tables.json` (which runs make each row, the paper's
values, the orderings) and each run's `eval_test.json` and
`eval_test_nll.npy` under `reports/runs/` (`dvae_tf.evaluation.reproduction`).
"""

import sys

from absl import flags

from dvae_tf.binaries import cli
from dvae_tf.evaluation import reproduction

FLAGS = flags.FLAGS
flags.DEFINE_string('spec', 'reports/runs/tables.json', 'The table spec.')
flags.DEFINE_string('runs_dir', 'reports/runs', 'The tracked run folders.')
flags.DEFINE_string('report', 'REPRODUCTION.md', 'The report to update.')
flags.DEFINE_bool('check', False, 'Only check that the report is current.')
flags.DEFINE_string('figure', 'reports/orderings.png',
                    'Where to draw the orderings figure (PNG, needs '
                    "matplotlib: the 'report' extra); empty: not drawn.")


def main(argv):
  del argv
  spec = reproduction.load_spec(FLAGS.spec)
  sections = reproduction.render(spec, FLAGS.runs_dir)
  if FLAGS.check:
    with open(FLAGS.report) as f:
      text = f.read()
    if reproduction.updated_text(text, sections, FLAGS.report) != text:
      print(f'error: {FLAGS.report} differs from the tables of {FLAGS.spec}; '
            'run python bin/reproduction.py to rebuild them.',
            file=sys.stderr)
      sys.exit(1)
    print(f'{FLAGS.report} is current ({len(sections)} tables).')
    return
  changed = reproduction.update_report(FLAGS.report, sections)
  print(f'{"Rewrote" if changed else "Unchanged:"} {len(sections)} tables of '
        f'{FLAGS.report}.')
  if FLAGS.figure:
    try:
      reproduction.draw_orderings(
          reproduction.ordering_panels(spec, FLAGS.runs_dir), FLAGS.figure)
    except ImportError as error:
      print(f'error: {error}', file=sys.stderr)
      sys.exit(1)
    print(f'Drew the orderings figure: {FLAGS.figure}.')


def run():
  cli.run(main)


if __name__ == '__main__':
  run()
