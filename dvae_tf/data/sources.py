"""Readers for the file formats in which the public datasets are distributed.

Each reader takes a path and returns NumPy arrays of images, batch first, in the
source's own values; it neither splits nor binarizes (that is `datasets.py`).

- `read_mnist_npz`: Keras' `mnist.npz` (LeCun, Cortes and Burges).
- `read_amat`: `binarized_mnist_{train,valid,test}.amat` (Larochelle and
  Murray 2011).
- `read_omniglot_npz`: `omniglot.npz`, the 105x105 drawings of Lake et al.
  (2015) in one file.
- `read_chardata_mat`: `chardata.mat`, 28x28 Omniglot (Burda et al. 2015).
- `read_silhouettes_mat`: `caltech101_silhouettes_28_split1.mat` (Marlin et
  al. 2010).
- `read_cifar10`: `cifar-10-batches-py/` or `cifar-10-python.tar.gz`
  (Krizhevsky 2009).
"""

import os
import pickle
import tarfile

import numpy as np
from scipy import io as sio


def read_mnist_npz(path):
  """Reads Keras' `mnist.npz`.

  Args:
    path: the file, with keys `x_train` uint8 [60000, 28, 28], `y_train`,
      `x_test` uint8 [10000, 28, 28] and `y_test`.

  Returns:
    `(x_train, x_test)`: uint8 grey levels 0..255, [N, 28, 28], in file order.
  """
  with np.load(path) as data:
    return data['x_train'], data['x_test']


def read_amat(path, side=28):
  """Reads a Larochelle `.amat` file: one image a line, `side**2` 0/1 values.

  Args:
    path: the text file.
    side: the images' height and width.

  Returns:
    uint8 [N, side, side] in {0, 1}.

  Raises:
    ValueError: the number of values is not a multiple of `side**2`.
  """
  with open(path, 'r', encoding='ascii') as f:
    values = np.fromstring(f.read(), dtype=np.uint8, sep=' ')
  if values.size % (side * side):
    raise ValueError(f'{path}: {values.size} values, not a whole number of '
                     f'{side}x{side} images.')
  return values.reshape((-1, side, side))


def read_omniglot_npz(path):
  """Reads `omniglot.npz`: all 32,460 Omniglot drawings at 105x105.

  Args:
    path: the file, with keys `background` bool [19280, 105, 105] and
      `evaluation` bool [13180, 105, 105] (True = white page, False = ink) and
      their int16 character ids `background_labels` / `evaluation_labels`.

  Returns:
    `(ink, characters)`: bool [N, 105, 105], True where there is ink, for the
    background set followed by the evaluation set; int [N] character ids,
    unique across the two sets (the evaluation ids are offset by the number of
    background characters).
  """
  with np.load(path) as data:
    background_ids = data['background_labels'].astype(np.int64)
    evaluation_ids = data['evaluation_labels'].astype(np.int64)
    ink = np.concatenate([~data['background'], ~data['evaluation']])
  characters = np.concatenate(
      [background_ids, evaluation_ids + background_ids.max() + 1])
  return ink, characters


def matlab_images(rows, side=28):
  """Images from MATLAB's column-major rows: [N, side**2] -> [N, side, side].

  A MATLAB matrix flattened column by column stores pixel (row r, column c) at
  r + side * c, so each row is the transpose of a C-order reshape. For an
  [N, side**2] array this equals `rows.reshape((-1, side, side), order='F')`
  as public loaders write it (e.g. `data.T.reshape(..., order='F')` for Burda's
  `chardata.mat`).
  """
  return np.asarray(rows).reshape((-1, side, side)).transpose(0, 2, 1)


def read_chardata_mat(path):
  """Reads Burda et al.'s 28x28 Omniglot, `chardata.mat`.

  Args:
    path: the MATLAB file, with `data` [784, 24345] and `testdata` [784, 8070]:
      one column-major image a column, ink intensity in [0, 1].

  Returns:
    `(train, test)`: float [N, 28, 28] ink intensities in [0, 1].
  """
  mat = sio.loadmat(path)
  return matlab_images(mat['data'].T), matlab_images(mat['testdata'].T)


def read_silhouettes_mat(path):
  """Reads Marlin et al.'s Caltech-101 Silhouettes, 28x28 split 1.

  The rows are MATLAB column-major. Public VAE code reshapes them with
  `order='fortran'` and flips the values (jmtomczak/vae_vampprior,
  `utils/load_data.py`, `load_caltech101silhouettes`: `1. - data.reshape(
  (-1, 28, 28)).reshape((-1, 28*28), order='fortran')`; the file stores the
  silhouette as 0 on a background of 1). We do the same, so the object is 1
  like the ink of MNIST and Omniglot.

  Args:
    path: the MATLAB file, with `train_data`, `val_data` and `test_data`, each
      [N, 784] in {0, 1} (and labels, unused).

  Returns:
    A dict with `train`, `validation` and `test`: uint8 [N, 28, 28] in {0, 1},
    1 on the object.
  """
  mat = sio.loadmat(path)
  keys = {'train': 'train_data', 'validation': 'val_data', 'test': 'test_data'}
  return {split: 1 - matlab_images(mat[key]).astype(np.uint8)
          for split, key in keys.items()}


_CIFAR_TRAIN_BATCHES = tuple(f'data_batch_{i}' for i in range(1, 6))
_CIFAR_TEST_BATCH = 'test_batch'


def _cifar_images(batch):
  """A pickled CIFAR batch's `data` (rows of R, G, B planes) as NHWC."""
  return batch[b'data'].reshape((-1, 3, 32, 32)).transpose(0, 2, 3, 1)


def read_cifar10(path):
  """Reads CIFAR-10 in its Python format.

  Args:
    path: the `cifar-10-batches-py/` directory of pickled batches
      `data_batch_1..5` and `test_batch`, or the `cifar-10-python.tar.gz`
      holding it.

  Returns:
    `(train, test)`: uint8 [50000, 32, 32, 3] (batches 1..5 in order) and
    [10000, 32, 32, 3], values 0..255.
  """
  names = _CIFAR_TRAIN_BATCHES + (_CIFAR_TEST_BATCH,)
  if os.path.isdir(path):
    batches = {}
    for name in names:
      with open(os.path.join(path, name), 'rb') as f:
        batches[name] = pickle.load(f, encoding='bytes')
  else:
    with tarfile.open(path, 'r:*') as tar:
      batches = {
          os.path.basename(member.name): pickle.load(
              tar.extractfile(member), encoding='bytes')
          for member in tar.getmembers()
          if os.path.basename(member.name) in names}
  train = np.concatenate([_cifar_images(batches[name])
                          for name in _CIFAR_TRAIN_BATCHES])
  return train, _cifar_images(batches[_CIFAR_TEST_BATCH])
