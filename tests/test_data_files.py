"""Dataset files that are there but damaged or in the wrong format.

Every such file, written into a temporary `data_dir` under its real name and
read through the public loader, raises one `DatasetFormatError` (a
`ValueError`) whose message is a single line naming the file, what is wrong
and what was expected; nothing is downloaded in its place. Small synthetic
files of each format still load.
"""

import os
import pickle
import subprocess
import sys
import tarfile

import keras
import numpy as np
import pytest
from scipy import io as sio

from dvae_tf import data
from dvae_tf.data import download

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MNIST_TRAIN = 50000  # mnist.npz's first 50,000 training images are `train`.


@pytest.fixture(autouse=True)
def downloads(monkeypatch):
  """The downloads attempted: none may be, so each one fails and is listed."""
  attempted = []

  def fail(*args, **kwargs):
    attempted.append((args, kwargs))
    raise Exception('URL fetch failure: no internet')

  monkeypatch.setattr(keras.utils, 'get_file', fail)
  monkeypatch.setattr(download, 'tfds_images', fail)
  return attempted


# Writers of small files in each format; keyword arguments replace an array.


def _grey(num_images, side=28):
  return np.full((num_images, side, side), 7, np.uint8)


def _mnist_npz(folder, num_train=10, **arrays):
  arrays = {'x_train': _grey(num_train), 'y_train': np.zeros(num_train),
            'x_test': _grey(5), 'y_test': np.zeros(5)} | arrays
  np.savez_compressed(folder / 'mnist.npz', **arrays)


def _amat_text(images):
  return ''.join(' '.join(map(str, image.reshape(-1))) + '\n'
                 for image in images)


def _amat(folder, train=None):
  """The three .amat files; `train`, if given, is the train file's text."""
  texts = {'train': _amat_text(np.ones((4, 28, 28), np.uint8)),
           'valid': _amat_text(np.zeros((2, 28, 28), np.uint8)),
           'test': _amat_text(np.ones((3, 28, 28), np.uint8))}
  if train is not None:
    texts['train'] = train
  for suffix, text in texts.items():
    (folder / f'binarized_mnist_{suffix}.amat').write_text(text)


def _omniglot_npz(folder, **arrays):
  pages = np.ones((40, 105, 105), bool)
  pages[:, 30:70, 50:55] = False                   # a stroke of ink
  arrays = {'background': pages,
            'background_labels': np.repeat(np.arange(2, dtype=np.int16), 20),
            'evaluation': pages[:20],
            'evaluation_labels': np.zeros(20, np.int16)} | arrays
  np.savez_compressed(folder / 'omniglot.npz', **arrays)


def _chardata_mat(folder, **arrays):
  arrays = {'data': np.full((784, 40), 0.5),
            'testdata': np.ones((784, 6))} | arrays
  sio.savemat(folder / 'chardata.mat', arrays)


def _silhouettes_mat(folder, **arrays):
  arrays = {'train_data': np.ones((6, 784)), 'val_data': np.zeros((3, 784)),
            'test_data': np.ones((4, 784)),
            'train_labels': np.ones((6, 1))} | arrays
  sio.savemat(folder / 'caltech101_silhouettes_28_split1.mat', arrays)


_CIFAR_BATCHES = [f'data_batch_{i}' for i in range(1, 6)] + ['test_batch']


def _cifar_dir(folder, **batches):
  """cifar-10-batches-py/; a keyword replaces (or, None, drops) a batch."""
  batch_dir = folder / 'cifar-10-batches-py'
  batch_dir.mkdir()
  for name in _CIFAR_BATCHES:
    batch = batches.get(name, {b'data': np.full((1010, 3072), 9, np.uint8),
                               b'labels': [0] * 1010})
    if batch is not None:
      (batch_dir / name).write_bytes(
          batch if isinstance(batch, bytes) else pickle.dumps(batch))
  return batch_dir


def _cifar_tar(folder, **batches):
  """cifar-10-python.tar.gz of `_cifar_dir`'s batches (built elsewhere)."""
  (folder / 'src').mkdir()
  with tarfile.open(folder / 'cifar-10-python.tar.gz', 'w:gz') as tar:
    tar.add(_cifar_dir(folder / 'src', **batches), 'cifar-10-batches-py')


def _random_bytes(name):
  return lambda folder: (folder / name).write_bytes(
      np.random.default_rng(0).bytes(4096))


def _truncated(write, name):
  """`write`, then the file cut to half its length, as a broken download."""

  def write_truncated(folder):
    write(folder)
    path = folder / name
    path.write_bytes(path.read_bytes()[:path.stat().st_size // 2])

  return write_truncated


def _with(write, **kwargs):
  return lambda folder: write(folder, **kwargs)


_SILHOUETTES = 'caltech101_silhouettes_28_split1.mat'

# (dataset, the file the message names, how to write it, part of the message)
BAD_FILES = {
    'mnist random bytes': (
        'mnist_dynamic', 'mnist.npz', _random_bytes('mnist.npz'),
        'is not a .npz (zip) archive'),
    'mnist empty file': (
        'mnist_dynamic', 'mnist.npz', lambda f: (f / 'mnist.npz').touch(),
        'is empty'),
    'mnist truncated': (
        'mnist_dynamic', 'mnist.npz', _truncated(_mnist_npz, 'mnist.npz'),
        'cannot be read as a .npz archive (BadZipFile'),
    'mnist wrong keys': (
        'mnist_dynamic', 'mnist.npz',
        lambda f: np.savez(f / 'mnist.npz', train=_grey(3), test=_grey(3)),
        "has no key 'x_train' (its keys: ['test', 'train'])"),
    'mnist wrong image size': (
        'mnist_dynamic', 'mnist.npz', _with(_mnist_npz, x_train=_grey(10, 32)),
        "key 'x_train' has shape (10, 32, 32)"),
    'mnist transposed': (
        'mnist_dynamic', 'mnist.npz',
        _with(_mnist_npz, x_test=_grey(5).transpose(1, 2, 0)),
        "key 'x_test' has shape (28, 28, 5)"),
    'mnist flattened': (
        'mnist_dynamic', 'mnist.npz',
        _with(_mnist_npz, x_train=_grey(10).reshape(10, -1)),
        "key 'x_train' has shape (10, 784)"),
    'mnist float pixels in [0, 1]': (
        'mnist_dynamic', 'mnist.npz',
        _with(_mnist_npz, x_train=_grey(10).astype(np.float32) / 255),
        "key 'x_train' has dtype float32"),
    'mnist values above 255': (
        'mnist_dynamic', 'mnist.npz',
        _with(_mnist_npz, x_train=_grey(10).astype(np.int16) * 50),
        "key 'x_train' has values in [350, 350]"),
    'mnist empty arrays': (
        'mnist_dynamic', 'mnist.npz', _with(_mnist_npz, x_test=_grey(0)),
        "key 'x_test' holds no images"),
    'mnist too few images': (
        'mnist_dynamic', 'mnist.npz', _mnist_npz,
        'too few images to fill every split (train 10, validation 0, test 5)'),
    'amat random bytes': (
        'mnist_static', 'binarized_mnist_train.amat',
        lambda f: _amat(f, train=np.random.default_rng(0).bytes(4096).decode(
            'latin-1')),
        'cannot be read as a text file of 0/1 values'),
    'amat wrong image size': (
        'mnist_static', 'binarized_mnist_train.amat',
        lambda f: _amat(f, train=_amat_text(np.ones((49, 32, 32), np.uint8))),
        'line 1 has 1024 values'),
    'amat not 0/1': (
        'mnist_static', 'binarized_mnist_train.amat',
        lambda f: _amat(f, train=_amat_text(np.full((2, 28, 28), 255))),
        'the file has values in [255, 255]'),
    'amat fractions': (
        'mnist_static', 'binarized_mnist_train.amat',
        lambda f: _amat(f, train=_amat_text(np.full((2, 28, 28), 0.5))),
        'cannot be read as a text file of 0/1 values'),
    'amat empty': (
        'mnist_static', 'binarized_mnist_train.amat',
        lambda f: _amat(f, train=''), 'the file holds no images'),
    'omniglot.npz truncated': (
        'omniglot', 'omniglot.npz', _truncated(_omniglot_npz, 'omniglot.npz'),
        'cannot be read as a .npz archive'),
    'omniglot.npz wrong keys': (
        'omniglot', 'omniglot.npz',
        lambda f: np.savez(f / 'omniglot.npz', images=np.ones((2, 105, 105))),
        "has no key 'background'"),
    'omniglot.npz transposed': (
        'omniglot', 'omniglot.npz',
        _with(_omniglot_npz,
              evaluation=np.ones((20, 105, 105), bool).transpose(1, 2, 0)),
        "key 'evaluation' has shape (105, 105, 20)"),
    'omniglot.npz uint8 pages': (
        'omniglot', 'omniglot.npz',
        _with(_omniglot_npz, background=np.ones((40, 105, 105), np.uint8)),
        "key 'background' has dtype uint8"),
    'omniglot.npz labels of another length': (
        'omniglot', 'omniglot.npz',
        _with(_omniglot_npz, background_labels=np.zeros(3, np.int16)),
        "key 'background_labels' has shape (3,)"),
    'chardata.mat random bytes': (
        'omniglot', 'chardata.mat', _random_bytes('chardata.mat'),
        'cannot be read as a MATLAB file'),
    'chardata.mat truncated': (
        'omniglot', 'chardata.mat',
        _truncated(_chardata_mat, 'chardata.mat'),
        'cannot be read as a MATLAB file'),
    'chardata.mat missing testdata': (
        'omniglot', 'chardata.mat',
        lambda f: sio.savemat(f / 'chardata.mat', {'data': np.ones((784, 4))}),
        "has no key 'testdata' (its keys: ['data'])"),
    'chardata.mat one image a row': (
        'omniglot', 'chardata.mat',
        _with(_chardata_mat, data=np.ones((40, 784))),
        "key 'data' has shape (40, 784)"),
    'chardata.mat grey levels 0..255': (
        'omniglot', 'chardata.mat',
        _with(_chardata_mat, testdata=np.full((784, 6), 255.)),
        "key 'testdata' has values in [255, 255]"),
    'chardata.mat NaN': (
        'omniglot', 'chardata.mat',
        _with(_chardata_mat, testdata=np.full((784, 6), np.nan)),
        "key 'testdata' holds NaN values"),
    'silhouettes random bytes': (
        'caltech101_silhouettes', _SILHOUETTES, _random_bytes(_SILHOUETTES),
        'cannot be read as a MATLAB file'),
    'silhouettes missing val_data': (
        'caltech101_silhouettes', _SILHOUETTES,
        lambda f: sio.savemat(f / _SILHOUETTES,
                              {'train_data': np.ones((2, 784))}),
        "has no key 'val_data'"),
    'silhouettes wrong image size': (
        'caltech101_silhouettes', _SILHOUETTES,
        _with(_silhouettes_mat, train_data=np.ones((6, 1024))),
        "key 'train_data' has shape (6, 1024)"),
    'silhouettes grey values': (
        'caltech101_silhouettes', _SILHOUETTES,
        _with(_silhouettes_mat, test_data=np.full((4, 784), 0.5)),
        "key 'test_data' holds fractional values such as 0.5"),
    'silhouettes empty': (
        'caltech101_silhouettes', _SILHOUETTES,
        _with(_silhouettes_mat, val_data=np.zeros((0, 784))),
        "key 'val_data' holds no images"),
    'cifar folder missing a batch': (
        'cifar10', 'cifar-10-batches-py',
        _with(_cifar_dir, data_batch_3=None), 'has no data_batch_3'),
    'cifar damaged batch': (
        'cifar10', 'cifar-10-batches-py/data_batch_2',
        _with(_cifar_dir, data_batch_2=b'\x80\x04garbage'),
        'cannot be read as a pickled CIFAR-10 batch'),
    'cifar batch not a dict': (
        'cifar10', 'cifar-10-batches-py',
        _with(_cifar_dir, test_batch=[1, 2, 3]),
        "test_batch is not a dict with the key b'data'"),
    'cifar wrong image size': (
        'cifar10', 'cifar-10-batches-py',
        _with(_cifar_dir, data_batch_1={b'data': np.zeros((4, 1024),
                                                          np.uint8)}),
        "data_batch_1's b'data' has shape (4, 1024)"),
    'cifar float pixels': (
        'cifar10', 'cifar-10-batches-py',
        _with(_cifar_dir, data_batch_1={b'data': np.zeros((4, 3072))}),
        "data_batch_1's b'data' has dtype float64"),
    'cifar archive random bytes': (
        'cifar10', 'cifar-10-python.tar.gz',
        _random_bytes('cifar-10-python.tar.gz'),
        'cannot be read as a .tar.gz archive of CIFAR-10 batches'),
    'cifar archive truncated': (
        'cifar10', 'cifar-10-python.tar.gz',
        _truncated(_cifar_tar, 'cifar-10-python.tar.gz'),
        'cannot be read as a .tar.gz archive of CIFAR-10 batches'),
    'cifar archive missing test_batch': (
        'cifar10', 'cifar-10-python.tar.gz', _with(_cifar_tar, test_batch=None),
        'has no test_batch'),
}


@pytest.mark.parametrize('name, filename, write, problem',
                         list(BAD_FILES.values()), ids=list(BAD_FILES))
def test_bad_file_raises_one_line_naming_it(tmp_path, downloads, name,
                                            filename, write, problem):
  write(tmp_path)
  with pytest.raises(data.DatasetFormatError) as error:
    data.num_examples(name, 'train', data_dir=str(tmp_path))
  message = str(error.value)
  assert isinstance(error.value, ValueError)
  assert '\n' not in message
  assert message.startswith(f'{tmp_path / filename}: ')
  assert problem in message and '; expected ' in message
  assert 'pickled (object) data' not in message
  # No chained traceback from inside NumPy, zipfile, SciPy or pickle.
  assert error.value.__context__ is None or error.value.__suppress_context__
  assert not downloads


VALID_FILES = {
    'mnist_dynamic': (_with(_mnist_npz, num_train=MNIST_TRAIN + 1), 50000),
    'mnist_static': (_amat, 4),
    'omniglot': (_omniglot_npz, 43),  # 3 characters x 15 drawers, 2 held out
    'caltech101_silhouettes': (_silhouettes_mat, 6),
    'cifar10': (_cifar_tar, 5 * 1010 - 5000),
}


@pytest.mark.parametrize('name', list(VALID_FILES))
def test_small_valid_files_load(tmp_path, downloads, name):
  write, num_train = VALID_FILES[name]
  write(tmp_path)
  assert data.num_examples(name, 'train', data_dir=str(tmp_path)) == num_train
  assert not downloads


def test_chardata_mat_loads(tmp_path):
  _chardata_mat(tmp_path)
  assert data.num_examples('omniglot', 'test', data_dir=str(tmp_path)) == 6


def test_train_binary_reports_a_bad_file_in_one_line(tmp_path):
  _random_bytes('mnist.npz')(tmp_path)
  result = subprocess.run(
      [sys.executable, os.path.join(REPO, 'bin', 'train.py'),
       '--dataset=mnist_dynamic', f'--data_dir={tmp_path}',
       f'--run_dir={tmp_path / "run"}', '--num_steps=1'],
      capture_output=True, text=True, timeout=600, cwd=REPO,
      env=os.environ | {'PYTHONPATH': REPO, 'TF_CPP_MIN_LOG_LEVEL': '2'})
  assert result.returncode == 1, result.stderr
  last_line = [line for line in result.stderr.splitlines() if line.strip()][-1]
  assert last_line.startswith(f'error: {tmp_path / "mnist.npz"}: ')
  assert 'is not a .npz (zip) archive' in last_line
  assert 'Traceback' not in result.stderr
