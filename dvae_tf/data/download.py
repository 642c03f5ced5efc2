"""Finding a dataset's files in `data_dir`, else downloading them.

Every failure to find or download a file ends in one `DatasetNotFoundError`
that names the file, where to get it and the `--data_dir` flag, instead of the
downloader's own stack trace.
"""

import os

import keras
import numpy as np


class DatasetNotFoundError(FileNotFoundError):
  """A dataset's file is not in `data_dir` and could not be downloaded."""


def _where(data_dir):
  return f'data_dir={data_dir!r}' if data_dir else 'no data_dir was given'


def not_found(dataset, needed, url, data_dir, reason):
  """The error for a dataset whose files are missing and undownloadable.

  Args:
    dataset: the dataset's name.
    needed: the file names it reads, as a phrase.
    url: where the public copy is.
    data_dir: the folder that was searched, or None.
    reason: the download's exception.

  Returns:
    A `DatasetNotFoundError`.
  """
  first_line = (str(reason).strip().splitlines() or [type(reason).__name__])[0]
  return DatasetNotFoundError(
      f'Dataset {dataset!r} needs {needed}: not found '
      f'({_where(data_dir)}) and the download failed ({first_line}). '
      f'Get it from {url} and point --data_dir at the folder that holds it.')


def local_path(data_dir, name):
  """`data_dir/name` if it exists (a file or a folder), else None."""
  if data_dir is None:
    return None
  path = os.path.join(os.path.expanduser(data_dir), name)
  return path if os.path.exists(path) else None


def fetch_file(dataset, filename, url, data_dir, also_accepted=()):
  """The path of `filename` in `data_dir`, downloading it from `url` if missing.

  The download goes into `data_dir` (Keras' cache, `~/.keras/datasets`, when
  `data_dir` is None, where an earlier download is reused), so that the next
  call finds it locally.

  Args:
    dataset: the dataset's name, for the error message.
    filename: the file's name in its public distribution.
    url: its public address.
    data_dir: the folder to look in and download to, or None.
    also_accepted: other file names the caller would have read instead, listed
      in the error message.

  Returns:
    The file's path.

  Raises:
    DatasetNotFoundError: the file is not there and the download failed.
  """
  path = local_path(data_dir, filename)
  if path:
    return path
  # Offline, get_file raises a bare Exception; other failures raise OSError.
  try:
    if data_dir is None:
      return keras.utils.get_file(filename, url)
    return keras.utils.get_file(filename, url, cache_dir=data_dir,
                                cache_subdir='')
  except Exception as e:  # pylint: disable=broad-except
    needed = ' or '.join((filename,) + tuple(also_accepted))
    raise not_found(dataset, needed, url, data_dir, e) from None


def tfds_images(dataset, tfds_name, data_dir, files, url):
  """All splits of a tensorflow-datasets image dataset as NumPy arrays.

  Args:
    dataset: the dataset's name, for the error message.
    tfds_name: its name in tensorflow-datasets, with splits `train`,
      `validation` and `test` and an `image` feature.
    data_dir: tensorflow-datasets' data folder, or None for its default.
    files: the local files that would have been read instead, for the error.
    url: where those files are, for the error.

  Returns:
    A dict from split to uint8 images [N, H, W, C].

  Raises:
    DatasetNotFoundError: the dataset is neither prepared nor downloadable,
      or tensorflow-datasets is not installed.
  """
  # An optional dependency (the `tfds` extra), slow to import, and only
  # needed when the local files are missing.
  try:
    import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  except ImportError:
    raise DatasetNotFoundError(
        f'Dataset {dataset!r} needs {", ".join(files)} ({_where(data_dir)}); '
        'without them it is read through tensorflow-datasets, which is not '
        'installed. Put the files (from '
        f'{url}) in --data_dir, or install the extra: pip install '
        '"dvae_tf[tfds]".') from None
  # Download, extraction and preparation errors have no common base class.
  try:
    return {split: np.asarray(tfds.as_numpy(tfds.load(
        tfds_name, split=split, data_dir=data_dir, batch_size=-1))['image'])
            for split in ('train', 'validation', 'test')}
  except Exception as e:  # pylint: disable=broad-except
    raise not_found(dataset, ', '.join(files), url, data_dir, e) from None
