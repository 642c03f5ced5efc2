"""Tests of the data layer on small synthetic files in each public format.

No test downloads anything: `keras.utils.get_file` and `tfds.load` are replaced
by functions that fail, as they do offline. One test reads the real
`mnist.npz` when the shared data folder is present, and checks that it
reproduces the bundled sample.
"""

import os
import pickle
import sys
import tarfile

import keras
import numpy as np
import pytest
from scipy import io as sio
import tensorflow_datasets as tfds

from dvae_tf import data
from dvae_tf.data import omniglot
from dvae_tf.data import sample

REAL_DATA_DIR = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), '..',
    'shared', 'data')


def _offline(*args, **kwargs):
  del args, kwargs
  raise Exception('URL fetch failure: no internet')


@pytest.fixture(autouse=True)
def no_downloads(monkeypatch):
  """Every download fails, as on a machine without internet."""
  monkeypatch.setattr(keras.utils, 'get_file', _offline)
  monkeypatch.setattr(tfds, 'load', _offline)


def _letter_f(side=28):
  """A binary 'F': asymmetric under transposes and flips."""
  image = np.zeros((side, side), np.uint8)
  image[4:24, 6:9] = 1
  image[4:7, 6:20] = 1
  image[12:15, 6:16] = 1
  return image


def _as_float(images):
  return np.asarray(images, np.float32)[..., None]


# Registry and arguments.


def test_registry_names_shapes_and_binary():
  assert data.DATASETS == ('mnist_dynamic', 'mnist_static', 'omniglot',
                           'caltech101_silhouettes', 'cifar10', 'sample')
  for name in data.DATASETS:
    assert data.image_shape(name) == ((32, 32, 3) if name == 'cifar10'
                                      else (28, 28, 1))
    assert data.is_binary(name) == (name != 'cifar10')
  assert data.get_spec('mnist_dynamic').dynamic
  assert not data.get_spec('mnist_static').dynamic


def test_unknown_names_list_the_valid_ones():
  with pytest.raises(ValueError, match='mnist_dynamic.*sample'):
    data.make_dataset('mnist', 'train', 10)
  with pytest.raises(ValueError, match="'train', 'validation', 'test'"):
    data.make_dataset('sample', 'valid', 10)
  with pytest.raises(ValueError, match='batch_size'):
    data.make_dataset('sample', 'train', 0)
  with pytest.raises(ValueError, match='no batch'):
    data.make_dataset('sample', 'validation', 501, repeat=True)


# The bundled sample.


def test_sample_ships_and_loads_offline():
  assert os.path.getsize(sample.PATH) < 300_000
  sizes = {'train': 3000, 'validation': 500, 'test': 1000}
  for split, size in sizes.items():
    images = data.load_images('sample', split)
    assert images.shape == (size, 28, 28, 1) and images.dtype == np.float32
    assert set(np.unique(images)) == {0., 1.}
    assert data.num_examples('sample', split) == size
  assert 0.08 < data.train_mean('sample').mean() < 0.2
  batch = next(iter(data.make_dataset('sample', 'train', 64)))
  assert batch.shape == (64, 28, 28, 1) and batch.dtype == np.float32


# mnist_dynamic: Keras' mnist.npz.


@pytest.fixture(scope='module')
def mnist_dir(tmp_path_factory):
  """A synthetic mnist.npz: random grey images, marked split boundaries."""
  tmp_path = tmp_path_factory.mktemp('mnist')
  rng = np.random.default_rng(1998)
  x_train = np.zeros((60000, 28, 28), np.uint8)
  x_train[:2000] = rng.integers(0, 256, (2000, 28, 28))
  x_train[50000] = 255 * _letter_f()         # the first validation image
  x_test = rng.integers(0, 256, (10000, 28, 28)).astype(np.uint8)
  x_test[-1] = 255 * _letter_f().T            # the last test image
  np.savez(tmp_path / 'mnist.npz', x_train=x_train,
           y_train=np.zeros(60000, np.uint8), x_test=x_test,
           y_test=np.zeros(10000, np.uint8))
  return str(tmp_path), x_train, x_test


def test_mnist_splits_and_fixed_binarization(mnist_dir):
  data_dir, x_train, _ = mnist_dir
  sizes = {'train': 50000, 'validation': 10000, 'test': 10000}
  for split, size in sizes.items():
    assert data.num_examples('mnist_dynamic', split, data_dir) == size
  validation = data.load_images('mnist_dynamic', 'validation', data_dir)
  test = data.load_images('mnist_dynamic', 'test', data_dir)
  # Grey 0 and 255 binarize to 0 and 1 whatever the noise.
  np.testing.assert_array_equal(validation[0], _as_float(_letter_f()))
  np.testing.assert_array_equal(test[-1], _as_float(_letter_f().T))
  np.testing.assert_array_equal(
      test, data.load_images('mnist_dynamic', 'test', data_dir))
  assert not np.array_equal(
      test, data.load_images('mnist_dynamic', 'test', data_dir, seed=1))
  # Evaluation batches are the fixed binarization, every epoch.
  epochs = data.make_dataset('mnist_dynamic', 'test', 10000, data_dir,
                             repeat=True).take(2)
  for batch in epochs:
    np.testing.assert_array_equal(batch, test)
  np.testing.assert_allclose(data.train_mean('mnist_dynamic', data_dir),
                             _as_float(x_train[:50000].mean(0) / 255.),
                             rtol=1e-6)


def test_mnist_dynamic_binarization(mnist_dir):
  data_dir, x_train, _ = mnist_dir

  def two_epochs(seed):
    """The first 2,000 (grey) images of epochs 0 and 1, in file order."""
    ds = data.make_dataset('mnist_dynamic', 'train', 1000, data_dir,
                           shuffle=False, seed=seed)
    batches = [batch.numpy() for batch in ds.take(52)]
    return np.concatenate(batches[:2]), np.concatenate(batches[50:])

  first, second = two_epochs(seed=3)
  assert set(np.unique(first)) == {0., 1.}
  assert np.mean(first != second) > 0.1    # a fresh draw every epoch
  again = two_epochs(seed=3)
  np.testing.assert_array_equal(first, again[0])
  np.testing.assert_array_equal(second, again[1])
  assert np.mean(first != two_epochs(seed=4)[0]) > 0.1
  # P(x = 1) = grey / 255: binomial counts within 5 standard deviations.
  probs = x_train[:2000].astype(np.float64)[..., None] / 255.
  for low in range(0, 256, 32):
    bin_ = (probs >= low / 255.) & (probs < (low + 32) / 255.)
    expected = probs[bin_].sum()
    assert abs(first[bin_].sum() - expected) < 5 * np.sqrt(expected) + 1


def test_training_order_is_shuffled_and_reproducible(mnist_dir):
  data_dir, _, _ = mnist_dir

  def epochs(seed):
    ds = data.make_dataset('mnist_dynamic', 'validation', 10000, data_dir,
                           shuffle=True, repeat=True, seed=seed)
    return [batch.numpy() for batch in ds.take(2)]

  fixed = data.load_images('mnist_dynamic', 'validation', data_dir, seed=5)
  first, second = epochs(seed=5)
  assert not np.array_equal(first, second)
  # The same images (fixed binarization) in another order.
  for epoch in (first, second):
    np.testing.assert_array_equal(np.sort(epoch.reshape(10000, -1), axis=0),
                                  np.sort(fixed.reshape(10000, -1), axis=0))
  np.testing.assert_array_equal(first, epochs(seed=5)[0])


def test_start_step_resumes_the_same_sequence(mnist_dir):
  data_dir, _, _ = mnist_dir
  full = data.make_dataset('mnist_dynamic', 'train', 1000, data_dir, seed=2)
  resumed = data.make_dataset('mnist_dynamic', 'train', 1000, data_dir, seed=2,
                              start_step=51)
  expected = list(full.take(53))[51:]
  for batch, want in zip(resumed.take(2), expected):
    np.testing.assert_array_equal(batch, want)


def test_batches(mnist_dir):
  data_dir, _, _ = mnist_dir
  train = data.make_dataset('mnist_dynamic', 'train', 128, data_dir)
  assert train.element_spec.shape.as_list() == [128, 28, 28, 1]
  test = list(data.make_dataset('mnist_dynamic', 'test', 3000, data_dir))
  assert [len(batch) for batch in test] == [3000, 3000, 3000, 1000]


# mnist_static: Larochelle's .amat files.


def _write_amat(path, images):
  with open(path, 'w', encoding='ascii') as f:
    for image in images:
      f.write(' '.join(map(str, image.reshape(-1))) + '\n')


def test_mnist_static_amat(tmp_path, rng):
  images = {}
  for split, suffix, size in (('train', 'train', 7), ('validation', 'valid', 3),
                              ('test', 'test', 5)):
    images[split] = rng.integers(0, 2, (size, 28, 28)).astype(np.uint8)
    images[split][0] = _letter_f()
    _write_amat(tmp_path / f'binarized_mnist_{suffix}.amat', images[split])
  for split, expected in images.items():
    np.testing.assert_array_equal(
        data.load_images('mnist_static', split, str(tmp_path)),
        _as_float(expected))
  np.testing.assert_allclose(data.train_mean('mnist_static', str(tmp_path)),
                             _as_float(images['train'].mean(0)), rtol=1e-6)


def test_mnist_static_falls_back_to_tfds(tmp_path, monkeypatch):
  sizes = {'train': 4, 'validation': 2, 'test': 3}

  def fake_load(name, split, data_dir, batch_size):
    assert (name, data_dir, batch_size) == ('binarized_mnist', str(tmp_path),
                                            -1)
    return {'image': np.ones((sizes[split], 28, 28, 1), np.uint8)}

  monkeypatch.setattr(tfds, 'load', fake_load)
  monkeypatch.setattr(tfds, 'as_numpy', lambda tree: tree)
  for split, size in sizes.items():
    images = data.load_images('mnist_static', split, str(tmp_path))
    np.testing.assert_array_equal(images, np.ones((size, 28, 28, 1)))


def test_mnist_static_without_tfds_names_the_extra(tmp_path, monkeypatch):
  """tensorflow-datasets is optional: without it the error names the fix."""
  monkeypatch.setitem(sys.modules, 'tensorflow_datasets', None)
  with pytest.raises(data.DatasetNotFoundError) as error:
    data.load_images('mnist_static', 'train', str(tmp_path))
  message = str(error.value)
  assert 'binarized_mnist_train.amat' in message
  assert 'dvae_tf[tfds]' in message and '\n' not in message


# omniglot: Burda's chardata.mat and the 105x105 omniglot.npz.


def test_omniglot_chardata_fortran_order(tmp_path, rng):
  train = rng.integers(0, 2, (40, 28, 28)).astype(np.float64)
  train[17] = _letter_f()
  test = rng.integers(0, 2, (6, 28, 28)).astype(np.float64)
  test[0] = _letter_f().T
  # MATLAB stores each image column by column, one image a column.
  to_mat = lambda images: images.reshape(len(images), -1, order='F').T
  sio.savemat(tmp_path / 'chardata.mat',
              {'data': to_mat(train), 'testdata': to_mat(test)})
  data_dir = str(tmp_path)
  loaded = {split: data.load_images('omniglot', split, data_dir)
            for split in data.SPLITS}
  # Validation is every 18th training image; 0/1 intensities binarize exactly.
  held_out = np.arange(40) % 18 == 17
  np.testing.assert_array_equal(loaded['validation'],
                                _as_float(train[held_out]))
  np.testing.assert_array_equal(loaded['train'], _as_float(train[~held_out]))
  np.testing.assert_array_equal(loaded['test'], _as_float(test))
  np.testing.assert_array_equal(loaded['validation'][0],
                                _as_float(_letter_f()))


def test_omniglot_downsampling_is_an_area_average(rng):
  ink = rng.random((3, 105, 105)) < 0.3
  grey = omniglot.downsample(ink)
  assert grey.shape == (3, 28, 28) and grey.dtype == np.uint8
  np.testing.assert_allclose(grey.mean((1, 2)) / 255., ink.mean((1, 2)),
                             atol=2e-3)
  one_pixel = np.zeros((1, 105, 105), bool)
  one_pixel[0, 0, 0] = True
  assert omniglot.downsample(one_pixel)[0, 0, 0] == round(255 / 3.75**2)
  # 15 source pixels are exactly 4 output pixels.
  block = np.zeros((1, 105, 105), bool)
  block[0, 15:30, 0:45] = True
  expected = np.zeros((28, 28), np.uint8)
  expected[4:8, 0:12] = 255
  np.testing.assert_array_equal(omniglot.downsample(block)[0], expected)


def test_omniglot_drawer_split_keeps_file_order_per_character():
  characters = np.array([2, 0, 2, 1, 0, 2, 0, 1, 2])
  is_train = omniglot.drawer_split(characters, train_drawers=2)
  np.testing.assert_array_equal(
      is_train, [True, True, True, True, True, False, False, True, False])


def _drawer_page(drawer):
  """A 105x105 page (True = white) inked on the 4x4 output block `drawer`."""
  page = np.ones((105, 105), bool)
  row, col = divmod(drawer, 7)
  page[15 * row:15 * row + 15, 15 * col:15 * col + 15] = False
  return page


def test_omniglot_npz_split(tmp_path):
  pages = np.stack([_drawer_page(d) for d in range(20)])
  np.savez(tmp_path / 'omniglot.npz',
           background=np.tile(pages, (3, 1, 1)),
           background_labels=np.repeat(np.arange(3, dtype=np.int16), 20),
           evaluation=np.tile(pages, (2, 1, 1)),
           evaluation_labels=np.repeat(np.arange(2, dtype=np.int16), 20))
  data_dir = str(tmp_path)
  sizes = {split: data.num_examples('omniglot', split, data_dir)
           for split in data.SPLITS}
  assert sizes == {'train': 75 - 4, 'validation': 4, 'test': 25}

  def drawers(split):
    blocks = data.load_images('omniglot', split, data_dir)[..., 0]
    blocks = blocks.reshape(-1, 7, 4, 7, 4).min((2, 4)).reshape(-1, 49)
    assert np.all(blocks.sum(1) == 1)  # one fully inked block, in place
    return np.argmax(blocks, 1)

  np.testing.assert_array_equal(drawers('test'), np.tile(np.arange(15, 20), 5))
  train_drawers = np.tile(np.arange(15), 5)
  np.testing.assert_array_equal(drawers('validation'), train_drawers[17::18])


# caltech101_silhouettes: Marlin's .mat.


def test_caltech_silhouettes_fortran_order_and_polarity(tmp_path, rng):
  stored, sizes = {}, {'train': 6, 'val': 4, 'test': 5}
  for key, size in sizes.items():
    images = rng.integers(0, 2, (size, 28, 28)).astype(np.uint8)
    images[0] = 1 - _letter_f()               # the object is 0 in the file
    stored[key] = images
  sio.savemat(
      tmp_path / 'caltech101_silhouettes_28_split1.mat',
      {f'{key}_data': images.reshape(len(images), -1, order='F')
       for key, images in stored.items()} |
      {f'{key}_labels': np.ones((size, 1)) for key, size in sizes.items()})
  for split, key in (('train', 'train'), ('validation', 'val'),
                     ('test', 'test')):
    images = data.load_images('caltech101_silhouettes', split, str(tmp_path))
    np.testing.assert_array_equal(images, _as_float(1 - stored[key]))
    np.testing.assert_array_equal(images[0], _as_float(_letter_f()))


# cifar10: pickled Python batches.


def _write_cifar(folder, images):
  os.makedirs(folder)
  rows = images.transpose(0, 3, 1, 2).reshape(len(images), -1)
  names = [f'data_batch_{i}' for i in range(1, 6)] + ['test_batch']
  for name, batch in zip(names, np.array_split(rows, 6)):
    with open(os.path.join(folder, name), 'wb') as f:
      pickle.dump({b'data': batch, b'labels': [0] * len(batch)}, f)


@pytest.mark.parametrize('archive', [False, True])
def test_cifar10_batches(tmp_path, rng, archive):
  images = np.zeros((6 * 1010, 32, 32, 3), np.uint8)
  images[-1020:] = rng.integers(0, 256, (1020, 32, 32, 3))
  images[5049, :4, :8] = [255, 128, 1]   # the last training image
  _write_cifar(tmp_path / 'src' / 'cifar-10-batches-py', images)
  data_dir = tmp_path / 'data'
  if archive:
    data_dir.mkdir()
    with tarfile.open(data_dir / 'cifar-10-python.tar.gz', 'w:gz') as tar:
      tar.add(tmp_path / 'src' / 'cifar-10-batches-py', 'cifar-10-batches-py')
  else:
    data_dir = tmp_path / 'src'
  data_dir = str(data_dir)
  validation = data.load_images('cifar10', 'validation', data_dir)
  assert validation.shape == (5000, 32, 32, 3)
  np.testing.assert_array_equal(validation, images[50:5050])
  np.testing.assert_array_equal(validation[-1, 0, 0], [255., 128., 1.])
  np.testing.assert_array_equal(data.load_images('cifar10', 'test', data_dir),
                                images[5050:])
  assert data.num_examples('cifar10', 'train', data_dir) == 50
  assert 0. <= data.train_mean('cifar10', data_dir).max() <= 1.


# Missing files.


@pytest.mark.parametrize('name, expected_file', [
    ('mnist_dynamic', 'mnist.npz'),
    ('mnist_static', 'binarized_mnist_train.amat'),
    ('omniglot', 'chardata.mat'),
    ('caltech101_silhouettes', 'caltech101_silhouettes_28_split1.mat'),
    ('cifar10', 'cifar-10-python.tar.gz'),
])
def test_missing_file_raises_one_clear_error(tmp_path, name, expected_file):
  with pytest.raises(data.DatasetNotFoundError) as error:
    data.make_dataset(name, 'train', 10, data_dir=str(tmp_path))
  message = str(error.value)
  assert isinstance(error.value, FileNotFoundError)
  assert expected_file in message and '--data_dir' in message
  assert 'http' in message and 'no internet' in message
  assert error.value.__suppress_context__


# The real files, where the shared data folder is present.


@pytest.mark.skipif(
    not os.path.exists(os.path.join(REAL_DATA_DIR, 'mnist.npz')),
    reason='the real mnist.npz is not present')
def test_real_mnist_reproduces_the_sample():
  images, indices = sample.read()
  for split in ('validation', 'test'):
    real = data.load_images('mnist_dynamic', split, REAL_DATA_DIR)
    np.testing.assert_array_equal(real[indices[split]],
                                  _as_float(images[split]))
  assert 0.12 < data.train_mean('mnist_dynamic', REAL_DATA_DIR).mean() < 0.14
