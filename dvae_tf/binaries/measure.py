"""One benchmark measurement in a fresh process, printed as a JSON line.

The benchmark suites (`dvae-benchmark`) start this program for every
measurement that needs its own process: thread counts and devices are fixed
when TensorFlow starts, and interleaved rounds need fresh processes.

  python -m dvae_tf.binaries.measure --cell=training_step --chains=100 \
      --threads=1 --data_dir=DIR
  python -m dvae_tf.binaries.measure --cell=fit_vs_loop --threads=2 \
      --data_dir=DIR
  python -m dvae_tf.binaries.measure --cell=scaling --model=feed_forward \
      --mode=logical --replicas=2
"""

import json

from absl import flags

from dvae_tf.benchmarks import scaling
from dvae_tf.benchmarks import training as training_benchmark
from dvae_tf.binaries import cli

FLAGS = flags.FLAGS
CELLS = ('training_step', 'fit_vs_loop', 'scaling')
flags.DEFINE_enum('cell', None, list(CELLS), 'What to measure: the training '
                  'step of the training suite, Keras\' fit against it, or '
                  'one configuration of the scaling suite.', required=True)
# training_step and fit_vs_loop (`dvae_tf.benchmarks.training`).
flags.DEFINE_enum('prior', 'rbm', ['rbm', 'factorial'], 'training_step: '
                  'the prior of the Table 2 model.')
flags.DEFINE_integer('chains', 100, 'Persistent chains.')
flags.DEFINE_integer('threads', 1, 'TensorFlow intra- and inter-op threads.')
flags.DEFINE_integer('steps', 200, 'Timed steps (after the untimed warm-up).')
flags.DEFINE_string('data_dir', None, 'Folder with mnist.npz.')
flags.DEFINE_string('dataset', training_benchmark.TRAIN['dataset'],
                    'Training set.')
flags.DEFINE_integer('rounds', 3, 'fit_vs_loop: alternations.')
flags.DEFINE_bool('jit_compile', False, 'Compile the step with XLA.')
flags.DEFINE_bool('prepared_input', False, 'training_step: replay batches '
                  'made during the warm-up, leaving the input pipeline out of '
                  'the time, as the reference leaves out making its batches.')
# scaling (`dvae_tf.benchmarks.scaling`).
flags.DEFINE_enum('model', 'feed_forward', list(scaling.MODELS), 'Model.')
flags.DEFINE_enum('mode', 'one', ['one', 'logical', 'workers', 'gpus'],
                  'Replica layout.')
flags.DEFINE_integer('replicas', 1, 'Replicas.')
flags.DEFINE_bool('deterministic', False, 'Enable op determinism.')


def main(argv):
  del argv
  if FLAGS.cell == 'scaling':
    print(json.dumps(scaling.measure_here(
        FLAGS.model, FLAGS.mode, FLAGS.replicas, FLAGS.steps,
        FLAGS.deterministic)))
    return
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  tf.config.threading.set_intra_op_parallelism_threads(FLAGS.threads)
  tf.config.threading.set_inter_op_parallelism_threads(FLAGS.threads)
  overrides = dict(dataset=FLAGS.dataset, jit_compile=FLAGS.jit_compile)
  record = {'chains': FLAGS.chains, 'threads': FLAGS.threads,
            'jit_compile': FLAGS.jit_compile}
  if FLAGS.cell == 'fit_vs_loop':
    record['fit_ms'], record['loop_ms'] = (
        training_benchmark.fit_and_loop_milliseconds(
            FLAGS.chains, FLAGS.data_dir, FLAGS.steps, FLAGS.rounds,
            train_overrides=overrides))
  else:
    record['prior'] = FLAGS.prior
    record['ms_per_step'] = training_benchmark.step_milliseconds(
        FLAGS.chains, FLAGS.data_dir, FLAGS.steps, train_overrides=overrides,
        prior=FLAGS.prior, prepared_input=FLAGS.prepared_input)
    record['prepared_input'] = FLAGS.prepared_input
  print(json.dumps(record))


def run():
  cli.run(main)


if __name__ == '__main__':
  run()
