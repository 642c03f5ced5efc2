"""Writes a grid of samples from a trained model's prior as PNG.

  python bin/sample.py --model_dir=runs/demo --num_samples=64 --output=samples.png
"""

from absl import app
from absl import flags

from dvae_tf import images
from dvae_tf import training

FLAGS = flags.FLAGS
flags.DEFINE_string('model_dir', None, 'A directory written by bin/train.py.',
                    required=True)
flags.DEFINE_string('data_dir', None, 'Folder with the dataset files.')
flags.DEFINE_integer('num_samples', 64, 'Number of samples.')
flags.DEFINE_string('output', 'samples.png', 'PNG file to write.')
flags.DEFINE_integer('seed', 0, 'Random seed.')


def main(argv):
  del argv
  if FLAGS.num_samples < 1:
    raise app.UsageError('--num_samples must be positive.')
  model, _, _, _ = training.restore_model(FLAGS.model_dir, FLAGS.data_dir)
  means, _ = model.sample(FLAGS.num_samples, seed=(FLAGS.seed, 0))
  images.write_png(FLAGS.output, images.grid(means.numpy()))
  print(f'Wrote {FLAGS.num_samples} samples to {FLAGS.output}.')


if __name__ == '__main__':
  app.run(main)
