r"""Regenerates `mnist_sample.npz` from Keras' `mnist.npz`.

  python -m dvae_tf.binaries.make_sample --data_dir=../shared/data

`--data_dir` is the folder holding `mnist.npz`. The sample is
`load_images('mnist_dynamic', split, data_dir, seed=0)` at 3,000 / 500 / 1,000
positions of the train / validation / test splits, drawn without replacement
by `np.random.default_rng(0)` and sorted.
"""

from absl import flags
import numpy as np

from dvae_tf import data
from dvae_tf.binaries import cli
from dvae_tf.data import sample

SIZES = {'train': 3000, 'validation': 500, 'test': 1000}
SEED = 0

_DATA_DIR = flags.DEFINE_string('data_dir', None,
                                'Folder holding mnist.npz.', required=True)
_OUTPUT = flags.DEFINE_string('output', sample.PATH, 'The .npz to write.')


def make_sample(data_dir, output=sample.PATH):
  """Writes the sample drawn from `data_dir/mnist.npz` to `output`."""
  rng = np.random.default_rng(SEED)
  images, indices = {}, {}
  for split in sample.SPLITS:
    binary = data.load_images('mnist_dynamic', split, data_dir, seed=SEED)
    indices[split] = np.sort(
        rng.choice(len(binary), SIZES[split], replace=False))
    images[split] = binary[indices[split]]
  np.savez_compressed(output, **sample.pack(images, indices))


def main(argv):
  del argv  # Unused.
  make_sample(_DATA_DIR.value, _OUTPUT.value)


def run():
  cli.run(main)


if __name__ == '__main__':
  run()
