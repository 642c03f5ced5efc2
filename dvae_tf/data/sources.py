"""Readers for the file formats in which the public datasets are distributed.

Each reader takes a path and returns NumPy arrays of images, batch first, in the
source's own values; it neither splits nor binarizes (that is `datasets.py`).
It checks the file against the format it documents (keys, shapes, dtypes,
values, at least one image) and raises a one-line `DatasetFormatError` naming
the file, what is wrong and what was expected, also for a damaged file.

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

import contextlib
import os
import pickle
import tarfile

import numpy as np
from scipy import io as sio


class DatasetFormatError(ValueError):
  """A dataset's file is there but not in the format of its public source."""


def format_error(path, problem, expected):
  """The one-line error for a file that is not in its documented format.

  Args:
    path: the file.
    problem: what is wrong with it, e.g. "key 'x_train' has dtype float32".
    expected: the format, in words.

  Returns:
    A `DatasetFormatError` reading "<path>: <problem>; expected <expected>."
  """
  return DatasetFormatError(f'{path}: {problem}; expected {expected}.')


def _first_line(error):
  """`TypeName: first line of the message` of an exception."""
  lines = str(error).strip().splitlines()
  return (f'{type(error).__name__}: {lines[0].rstrip(":")}' if lines else
          type(error).__name__)


@contextlib.contextmanager
def _reading(path, kind, expected):
  """Reports a failure to parse `path` as `kind` as a `DatasetFormatError`."""
  try:
    yield
  except DatasetFormatError:
    raise
  except Exception as e:  # pylint: disable=broad-except
    # A damaged file makes NumPy, zipfile, SciPy or pickle raise almost any
    # exception, and none of their messages names the file.
    raise format_error(path, f'cannot be read as {kind} ({_first_line(e)})',
                       expected) from None


def _require_keys(path, found, keys, expected):
  """Raises a `DatasetFormatError` naming the first of `keys` not in `found`."""
  for key in keys:
    if key not in found:
      raise format_error(path, f'has no key {key!r} (its keys: '
                         f'{sorted(found)})', expected)


def check_array(path, name, array, shape, kinds, expected, bounds=None,
                whole=False):
  """Raises a `DatasetFormatError` unless `array` is what the format stores.

  Args:
    path: the file, for the message.
    name: what the array is in the file, e.g. "key 'x_train'".
    array: the array read.
    shape: the expected shape; None stands for any size. An array with no
      elements is refused.
    kinds: the accepted NumPy dtype kinds, e.g. 'iu' for any integer type.
    expected: the format, in words.
    bounds: None, or the least and the greatest value allowed.
    whole: whether every value must be a whole number.
  """
  array = np.asarray(array)
  if array.ndim != len(shape) or any(
      want is not None and want != size
      for want, size in zip(shape, array.shape)):
    raise format_error(path, f'{name} has shape {array.shape}', expected)
  if array.dtype.kind not in kinds:
    raise format_error(path, f'{name} has dtype {array.dtype}', expected)
  if not array.size:
    raise format_error(path, f'{name} holds no images (shape {array.shape})',
                       expected)
  if array.dtype.kind == 'f' and np.isnan(array).any():
    raise format_error(path, f'{name} holds NaN values', expected)
  if bounds is not None:
    low, high = array.min(), array.max()
    if low < bounds[0] or high > bounds[1]:
      raise format_error(path, f'{name} has values in [{low:g}, {high:g}]',
                         expected)
  if whole and array.dtype.kind == 'f' and np.any(array != np.round(array)):
    fraction = array[array != np.round(array)].flat[0]
    raise format_error(path, f'{name} holds fractional values such as '
                       f'{fraction:g}', expected)


# The first bytes of a zip archive (an .npz): its first entry, or no entries.
_ZIP_MAGIC = (b'PK\x03\x04', b'PK\x05\x06')


def _load_npz(path, keys, expected):
  """The arrays `keys` of the .npz archive `path`, read into memory."""
  with _reading(path, 'a .npz archive', expected):
    with open(path, 'rb') as f:
      magic = f.read(len(_ZIP_MAGIC[0]))
    if magic not in _ZIP_MAGIC:
      problem = 'is not a .npz (zip) archive' if magic else 'is empty'
      raise format_error(path, problem, expected)
    with np.load(path, allow_pickle=False) as npz:
      _require_keys(path, npz.files, keys, expected)
      return {key: npz[key] for key in keys}


def _load_mat(path, keys, expected):
  """The arrays `keys` of the MATLAB file `path`."""
  with _reading(path, 'a MATLAB file', expected):
    mat = sio.loadmat(path)
  _require_keys(path, [key for key in mat if not key.startswith('__')], keys,
                expected)
  return {key: mat[key] for key in keys}


_MNIST_NPZ = ("'x_train' and 'x_test' as uint8 [N, 28, 28] grey levels 0..255 "
              "(the Keras mnist.npz format)")


def read_mnist_npz(path):
  """Reads Keras' `mnist.npz`.

  Args:
    path: the file, with keys `x_train` uint8 [60000, 28, 28], `y_train`,
      `x_test` uint8 [10000, 28, 28] and `y_test`.

  Returns:
    `(x_train, x_test)`: uint8 grey levels 0..255, [N, 28, 28], in file order.

  Raises:
    DatasetFormatError: the file is not in that format.
  """
  arrays = _load_npz(path, ('x_train', 'x_test'), _MNIST_NPZ)
  for key, images in arrays.items():
    check_array(path, f'key {key!r}', images, (None, 28, 28), 'iu', _MNIST_NPZ,
                bounds=(0, 255))
  return arrays['x_train'], arrays['x_test']


def read_amat(path, side=28):
  """Reads a Larochelle `.amat` file: one image a line, `side**2` 0/1 values.

  Args:
    path: the text file.
    side: the images' height and width.

  Returns:
    uint8 [N, side, side] in {0, 1}.

  Raises:
    DatasetFormatError: the file is not in that format.
  """
  expected = (f'one {side}x{side} image a line, {side * side} space-separated '
              '0/1 values (the binarized MNIST .amat format)')
  with _reading(path, 'a text file of 0/1 values', expected):
    with open(path, 'r', encoding='ascii') as f:
      text = f.read()
    values = np.fromstring(text, dtype=np.uint8, sep=' ')
  lines = [line for line in text.splitlines() if line.strip()]
  if values.size != len(lines) * side * side:
    sizes = (len(line.split()) for line in lines)
    number, size = next(((number, size) for number, size in enumerate(sizes, 1)
                         if size != side * side), (None, None))
    raise format_error(
        path, f'line {number} has {size} values' if number else
        'holds text other than space-separated 0/1 values', expected)
  images = values.reshape((-1, side, side))
  check_array(path, 'the file', images, (None, side, side), 'u', expected,
              bounds=(0, 1))
  return images


_OMNIGLOT_NPZ = ("'background' and 'evaluation' as bool [N, 105, 105] (True: "
                 "white page) and their integer character ids "
                 "'background_labels' and 'evaluation_labels' [N] (the "
                 "omniglot.npz format)")


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

  Raises:
    DatasetFormatError: the file is not in that format.
  """
  sets = ('background', 'evaluation')
  labels = {key: f'{key}_labels' for key in sets}
  data = _load_npz(path, sets + tuple(labels.values()), _OMNIGLOT_NPZ)
  for key in sets:
    check_array(path, f'key {key!r}', data[key], (None, 105, 105), 'b',
                _OMNIGLOT_NPZ)
    check_array(path, f'key {labels[key]!r}', data[labels[key]],
                (len(data[key]),), 'iu', _OMNIGLOT_NPZ)
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


_CHARDATA_MAT = ("'data' and 'testdata' as [784, N] ink intensities in [0, 1], "
                 "one column-major 28x28 image a column (Burda et al.'s "
                 "chardata.mat)")


def read_chardata_mat(path):
  """Reads Burda et al.'s 28x28 Omniglot, `chardata.mat`.

  Args:
    path: the MATLAB file, with `data` [784, 24345] and `testdata` [784, 8070]:
      one column-major image a column, ink intensity in [0, 1].

  Returns:
    `(train, test)`: float [N, 28, 28] ink intensities in [0, 1].

  Raises:
    DatasetFormatError: the file is not in that format.
  """
  mat = _load_mat(path, ('data', 'testdata'), _CHARDATA_MAT)
  for key, columns in mat.items():
    check_array(path, f'key {key!r}', columns, (28 * 28, None), 'biuf',
                _CHARDATA_MAT, bounds=(0, 1))
  return matlab_images(mat['data'].T), matlab_images(mat['testdata'].T)


_SILHOUETTES_MAT = ("'train_data', 'val_data' and 'test_data' as [N, 784] "
                    "values in {0, 1}, one column-major 28x28 image a row "
                    "(Marlin et al.'s caltech101_silhouettes_28_split1.mat)")


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

  Raises:
    DatasetFormatError: the file is not in that format.
  """
  keys = {'train': 'train_data', 'validation': 'val_data', 'test': 'test_data'}
  mat = _load_mat(path, tuple(keys.values()), _SILHOUETTES_MAT)
  for key, rows in mat.items():
    check_array(path, f'key {key!r}', rows, (None, 28 * 28), 'biuf',
                _SILHOUETTES_MAT, bounds=(0, 1), whole=True)
  return {split: 1 - matlab_images(mat[key]).astype(np.uint8)
          for split, key in keys.items()}


_CIFAR_TRAIN_BATCHES = tuple(f'data_batch_{i}' for i in range(1, 6))
_CIFAR_TEST_BATCH = 'test_batch'
_CIFAR_BATCHES = _CIFAR_TRAIN_BATCHES + (_CIFAR_TEST_BATCH,)
_CIFAR = ("the pickled batches data_batch_1..5 and test_batch, each a dict "
          "whose b'data' is uint8 [N, 3072] (CIFAR-10's Python version, "
          "cifar-10-python.tar.gz)")


def _cifar_images(path, name, batch):
  """A pickled CIFAR batch's `data` (rows of R, G, B planes) as NHWC."""
  if not isinstance(batch, dict) or b'data' not in batch:
    raise format_error(path, f"{name} is not a dict with the key b'data'",
                       _CIFAR)
  rows = np.asarray(batch[b'data'])
  check_array(path, f"{name}'s b'data'", rows, (None, 3 * 32 * 32), 'iu',
              _CIFAR, bounds=(0, 255))
  return rows.reshape((-1, 3, 32, 32)).transpose(0, 2, 3, 1)


def _read_cifar_batches(path):
  """The unpickled batches of the CIFAR-10 folder or archive `path`."""
  if os.path.isdir(path):
    batches = {}
    for name in _CIFAR_BATCHES:
      batch_path = os.path.join(path, name)
      if not os.path.isfile(batch_path):
        raise format_error(path, f'has no {name}', _CIFAR)
      with _reading(batch_path, 'a pickled CIFAR-10 batch', _CIFAR):
        with open(batch_path, 'rb') as f:
          batches[name] = pickle.load(f, encoding='bytes')
    return batches
  with _reading(path, 'a .tar.gz archive of CIFAR-10 batches', _CIFAR):
    with tarfile.open(path, 'r:*') as tar:
      batches = {
          os.path.basename(member.name): pickle.load(
              tar.extractfile(member), encoding='bytes')
          for member in tar.getmembers()
          if member.isfile() and os.path.basename(member.name) in
          _CIFAR_BATCHES}
  for name in _CIFAR_BATCHES:
    if name not in batches:
      raise format_error(path, f'has no {name}', _CIFAR)
  return batches


def read_cifar10(path):
  """Reads CIFAR-10 in its Python format.

  Args:
    path: the `cifar-10-batches-py/` directory of pickled batches
      `data_batch_1..5` and `test_batch`, or the `cifar-10-python.tar.gz`
      holding it.

  Returns:
    `(train, test)`: uint8 [50000, 32, 32, 3] (batches 1..5 in order) and
    [10000, 32, 32, 3], values 0..255.

  Raises:
    DatasetFormatError: the folder or archive is not in that format.
  """
  batches = _read_cifar_batches(path)
  images = {name: _cifar_images(path, name, batches[name])
            for name in _CIFAR_BATCHES}
  train = np.concatenate([images[name] for name in _CIFAR_TRAIN_BATCHES])
  return train, images[_CIFAR_TEST_BATCH]
