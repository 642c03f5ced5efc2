"""The named datasets: where each comes from, its splits and its pixel values.

| name                     | image   | stored   | train / valid. / test    |
| ------------------------ | ------- | -------- | ------------------------ |
| `mnist_dynamic`          | 28x28x1 | grey (1) | 50,000 / 10,000 / 10,000 |
| `mnist_static`           | 28x28x1 | binary   | 50,000 / 10,000 / 10,000 |
| `omniglot`               | 28x28x1 | grey (1) | 22,993 / 1,352 / 8,070 (2) |
| `caltech101_silhouettes` | 28x28x1 | binary   | 4,100 / 2,264 / 2,307    |
| `cifar10`                | 32x32x3 | 0..255 (3) | 45,000 / 5,000 / 10,000 |
| `sample`                 | 28x28x1 | binary   | 3,000 / 500 / 1,000      |

(1) Binarized x ~ Bernoulli(grey / 255): afresh every epoch for training, once
with a fixed seed for validation and test. (2) 8,115 test images when built
from `omniglot.npz` (`omniglot.py`). (3) Kept as integers for a discretized
likelihood.

Files (in `data_dir`): `mnist.npz` (Keras); `binarized_mnist_train.amat`,
`binarized_mnist_valid.amat`, `binarized_mnist_test.amat`; `chardata.mat` or
`omniglot.npz`; `caltech101_silhouettes_28_split1.mat`; `cifar-10-batches-py/`
or `cifar-10-python.tar.gz`. `sample` ships inside the package.

Each dataset is read from a local file in `data_dir`, in the format its public
source distributes (`sources.py`); when the file is missing it is downloaded
(`download.py`), and when that fails a `DatasetNotFoundError` says which file
to put where. A file that is there but not in its format (or too small to fill
every split) raises a `DatasetFormatError` naming it; nothing is downloaded in
its place. Images are kept in memory as uint8 [N, H, W, C] (`load_splits`);
`pipeline.py` turns them into float32 images.
"""

import dataclasses
import functools
import os
from typing import Callable

import numpy as np

from dvae_tf.data import download
from dvae_tf.data import omniglot
from dvae_tf.data import sample
from dvae_tf.data import sources

SPLITS = ('train', 'validation', 'test')


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
  """What a named dataset holds.

  Attributes:
    name: the dataset's name.
    image_shape: (height, width, channels) of one image.
    levels: the largest stored value: 1 for binary pixels, 255 for grey levels
      or 8-bit colour.
    dynamic: whether training images are binarized anew each epoch, with
      pixel probability value / `levels` (validation and test: once, with a
      fixed seed).
    read: `data_dir -> {split: uint8 array [N, ...]}` for all of `SPLITS`.
  """
  name: str
  image_shape: tuple[int, int, int]
  levels: int
  dynamic: bool
  read: Callable[[str | None], dict[str, np.ndarray]]

  @property
  def binary(self):
    """Whether the images the pipeline yields are in {0, 1}."""
    return self.dynamic or self.levels == 1


_MNIST_URL = ('https://storage.googleapis.com/tensorflow/tf-keras-datasets/'
              'mnist.npz')
_MNIST_TRAIN = 50000


def _nonempty_splits(path, splits):
  """`splits` of the images of `path`, after checking that none is empty."""
  sizes = ', '.join(f'{split} {len(images)}' for split, images in
                    splits.items())
  if not all(len(images) for images in splits.values()):
    raise sources.format_error(
        path, f'holds too few images to fill every split ({sizes})',
        'the complete file of the public dataset')
  return splits


def _read_mnist_dynamic(data_dir):
  path = download.fetch_file('mnist_dynamic', 'mnist.npz', _MNIST_URL,
                             data_dir)
  x_train, x_test = sources.read_mnist_npz(path)
  return _nonempty_splits(path, {'train': x_train[:_MNIST_TRAIN],
                                 'validation': x_train[_MNIST_TRAIN:],
                                 'test': x_test})


_LAROCHELLE_URL = ('http://www.cs.toronto.edu/~larocheh/public/datasets/'
                   'binarized_mnist/')
_AMAT_FILES = {split: f'binarized_mnist_{suffix}.amat' for split, suffix in
               (('train', 'train'), ('validation', 'valid'), ('test', 'test'))}


def _read_mnist_static(data_dir):
  paths = {split: download.local_path(data_dir, name)
           for split, name in _AMAT_FILES.items()}
  if all(paths.values()):
    return {split: sources.read_amat(path) for split, path in paths.items()}
  return download.tfds_images('mnist_static', 'binarized_mnist', data_dir,
                              tuple(_AMAT_FILES.values()), _LAROCHELLE_URL)


_CHARDATA_URL = ('https://github.com/yburda/iwae/raw/master/datasets/'
                 'OMNIGLOT/chardata.mat')


def _read_omniglot(data_dir):
  path = download.local_path(data_dir, 'omniglot.npz')
  if path and not download.local_path(data_dir, 'chardata.mat'):
    train, test = omniglot.read_npz(path)
  else:
    path = download.fetch_file('omniglot', 'chardata.mat', _CHARDATA_URL,
                               data_dir, also_accepted=('omniglot.npz',))
    train, test = omniglot.read_chardata(path)
  train, validation = omniglot.hold_out_validation(train)
  return _nonempty_splits(path, {'train': train, 'validation': validation,
                                 'test': test})


_SILHOUETTES_FILE = 'caltech101_silhouettes_28_split1.mat'
_SILHOUETTES_URL = ('https://people.cs.umass.edu/~marlin/data/' +
                    _SILHOUETTES_FILE)


def _read_silhouettes(data_dir):
  return sources.read_silhouettes_mat(download.fetch_file(
      'caltech101_silhouettes', _SILHOUETTES_FILE, _SILHOUETTES_URL, data_dir))


_CIFAR_URL = 'https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz'
_CIFAR_VALIDATION = 5000


def _read_cifar10(data_dir):
  # The official archive rather than tensorflow-datasets: TFDS reorders the
  # examples, and the validation split is defined by the original order.
  path = (download.local_path(data_dir, 'cifar-10-batches-py') or
          download.fetch_file('cifar10', 'cifar-10-python.tar.gz', _CIFAR_URL,
                              data_dir,
                              also_accepted=('cifar-10-batches-py/',)))
  train, test = sources.read_cifar10(path)
  return _nonempty_splits(path, {'train': train[:-_CIFAR_VALIDATION],
                                 'validation': train[-_CIFAR_VALIDATION:],
                                 'test': test})


def _read_sample(data_dir):
  del data_dir  # The sample ships inside the package.
  images, _ = sample.read()
  return images


_SPECS = {spec.name: spec for spec in (
    DatasetSpec('mnist_dynamic', (28, 28, 1), 255, True, _read_mnist_dynamic),
    DatasetSpec('mnist_static', (28, 28, 1), 1, False, _read_mnist_static),
    DatasetSpec('omniglot', (28, 28, 1), 255, True, _read_omniglot),
    DatasetSpec('caltech101_silhouettes', (28, 28, 1), 1, False,
                _read_silhouettes),
    DatasetSpec('cifar10', (32, 32, 3), 255, False, _read_cifar10),
    DatasetSpec('sample', (28, 28, 1), 1, False, _read_sample),
)}

DATASETS = tuple(_SPECS)


def get_spec(name):
  """The `DatasetSpec` of `name`; ValueError listing `DATASETS` if unknown."""
  if name not in _SPECS:
    raise ValueError(f'Unknown dataset {name!r}; expected one of {DATASETS}.')
  return _SPECS[name]


def check_split(split):
  """Returns `split`; ValueError listing `SPLITS` if it is not one of them."""
  if split not in SPLITS:
    raise ValueError(f'Unknown split {split!r}; expected one of {SPLITS}.')
  return split


def image_shape(name):
  """(height, width, channels) of the images of dataset `name`."""
  return get_spec(name).image_shape


def is_binary(name):
  """Whether dataset `name` yields pixels in {0, 1} (else integers 0..255)."""
  return get_spec(name).binary


def load_splits(name, data_dir=None):
  """The stored images of every split of `name`, read once and cached.

  Args:
    name: one of `DATASETS`.
    data_dir: the folder holding the dataset's files (see the module table),
      or None to use the download cache.

  Returns:
    A dict from split to a read-only uint8 array [N, H, W, C]: 0/1 for binary
    datasets, 0..255 otherwise.

  Raises:
    ValueError: unknown `name`.
    DatasetNotFoundError: the files are missing and cannot be downloaded.
    DatasetFormatError: a file is not in its documented format.
  """
  get_spec(name)
  if data_dir is not None:
    data_dir = os.path.abspath(os.path.expanduser(data_dir))
  return _load_splits(name, data_dir)


@functools.lru_cache(maxsize=4)
def _load_splits(name, data_dir):
  spec = get_spec(name)
  splits = {}
  for split, images in spec.read(data_dir).items():
    images = np.ascontiguousarray(images, np.uint8).reshape(
        (-1,) + spec.image_shape)
    images.setflags(write=False)
    splits[split] = images
  return splits
