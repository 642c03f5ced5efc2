"""The bundled sample: 4,500 real MNIST digits, binarized, for offline demos.

`mnist_sample.npz` holds 3,000 training, 500 validation and 1,000 test images
drawn from the `mnist_dynamic` splits and binarized once (README.md says how;
`dvae_tf.binaries.make_sample` regenerates it). Each split is stored as
`<split>_bits`, the 784 pixels of each image packed 8 to a byte by
`np.packbits`, and
`<split>_index`, the image's position in that `mnist_dynamic` split.
"""

import os

import numpy as np

PATH = os.path.join(os.path.dirname(__file__), 'mnist_sample.npz')
SPLITS = ('train', 'validation', 'test')
SIDE = 28


def pack(images, indices):
  """The arrays to save for binary images and their source positions.

  Args:
    images: dict from split to [N, 28, 28] or [N, 28, 28, 1] values in {0, 1}.
    indices: dict from split to int [N], positions in the source split.

  Returns:
    A dict of arrays for `np.savez_compressed`.
  """
  arrays = {}
  for split in SPLITS:
    flat = np.reshape(images[split], (len(images[split]), -1))
    arrays[f'{split}_bits'] = np.packbits(flat.astype(bool), axis=1)
    arrays[f'{split}_index'] = np.asarray(indices[split], np.uint16)
  return arrays


def read(path=PATH):
  """Reads the sample.

  Args:
    path: the `.npz` written from `pack`.

  Returns:
    `(images, indices)`: dicts from split to uint8 [N, 28, 28] in {0, 1} and
    to int [N] positions in the `mnist_dynamic` split.
  """
  with np.load(path, allow_pickle=False) as data:
    images = {split: np.unpackbits(data[f'{split}_bits'], axis=1,
                                   count=SIDE * SIDE).reshape((-1, SIDE, SIDE))
              for split in SPLITS}
    indices = {split: data[f'{split}_index'].astype(np.int64)
               for split in SPLITS}
  return images, indices
