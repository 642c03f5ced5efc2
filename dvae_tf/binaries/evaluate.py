"""Evaluates the importance-weighted test NLL (binary limit) of a trained model.

  dvae-evaluate --run_dir=runs/demo --num_importance_samples=4000

Prints one JSON line (nll, stderr, log_z, log_z_method, ...; bits_per_dim for
8-bit datasets such as CIFAR-10) and writes it to <run_dir>/eval_<split>.json,
and each image's NLL to <run_dir>/eval_<split>_nll.npy
(`dvae_tf.evaluation.report`), as one commit. A run directory that cannot
be written is refused before anything is scored. While scoring, the NLLs of
the batches done so far are saved (eval_<split>_partial.npz): an evaluation
interrupted and run again with the same flags resumes where it stopped.
When the result cannot be written at the end (a full disk), the JSON line is
printed all the same, followed by an `error:` line, exit status 1.

With --compare_with=OTHER_RUN (a run evaluated before on the same images with
the same k), the line also holds `paired_difference`: this model's NLL minus
the other's, averaged over the images, with the standard error of the paired
differences (`evaluation.paired_difference`), the error bar for a ranking.
Works for feed-forward and DVAE++ models: for DVAE++ the importance samples
are binary for the global latents and drawn from the posterior for the local
ones.
"""

import json

from absl import flags

from dvae_tf.binaries import cli
from dvae_tf import data
from dvae_tf import distribute
from dvae_tf.evaluation import bound as evaluation
from dvae_tf.evaluation import report as evaluation_report

FLAGS = flags.FLAGS
cli.define_run_flags('score')
flags.DEFINE_enum('split', 'test', list(data.SPLITS), 'Split to evaluate.')
flags.DEFINE_integer('num_importance_samples',
                     evaluation.NUM_IMPORTANCE_SAMPLES, 'Samples per image.')
flags.DEFINE_integer('batch_size', evaluation.BATCH_SIZE, 'Images per batch.')
flags.DEFINE_integer('max_images', 0, 'Evaluate only the first N (0: all).')
cli.define_ais_flags()
flags.DEFINE_integer('seed', 0, 'Random seed.')
cli.define_strategy_flags()
flags.DEFINE_string('compare_with', None, 'Another run directory, evaluated '
                    'on the same images with the same k: report the paired '
                    'NLL difference against it.')


def main(argv):
  del argv
  strategy = cli.strategy_from_flags()
  try:
    result = evaluation_report.evaluate_run(
        FLAGS.run_dir, split=FLAGS.split,
        num_importance_samples=FLAGS.num_importance_samples,
        batch_size=FLAGS.batch_size, max_images=FLAGS.max_images,
        ais_chains=FLAGS.ais_chains, ais_temperatures=FLAGS.ais_temperatures,
        seed=FLAGS.seed, data_dir=FLAGS.data_dir,
        compare_with=FLAGS.compare_with, checkpoint=FLAGS.checkpoint,
        verbose=distribute.is_chief(strategy), strategy=strategy)
  except evaluation_report.EvaluationWriteError as e:
    print(json.dumps(e.result), flush=True)  # Computed, if not saved.
    raise
  if distribute.is_chief(strategy):
    path, _ = evaluation_report.evaluation_paths(FLAGS.run_dir, FLAGS.split)
    print(f'Wrote {path}:')
    print(json.dumps(result))


def run():
  cli.run(main)


if __name__ == '__main__':
  run()
