"""From stored images to float32 image batches: `make_dataset` and friends.

Randomness is stateless and keyed, so a seed reproduces everything:

  - keys K(e, purpose) = fold_in(fold_in([seed, split id], e), purpose);
  - the order of epoch e is argsort(uniform([N], K(e, order))), or file order;
  - the training split of a dynamically binarized dataset draws the noise of
    batch b of epoch e from fold_in(K(e, noise), b): a fresh binarization
    every epoch, reproducible for a given seed and batch size;
  - its validation and test splits are binarized once, as a whole, from
    K(0, noise): the same images whatever the batch size or the epoch.

Every batch holds images of one epoch; with `drop_remainder` the last
`N % batch_size` images of each epoch's order are left out of it.
"""

import numpy as np
import tensorflow as tf

from dvae_tf.data import binarization
from dvae_tf.data import datasets

_SPLIT_IDS = {split: i for i, split in enumerate(datasets.SPLITS)}
_LOAD_BATCH = 1000
_NOISE, _ORDER = 0, 1  # The purposes of a key.


def _key(seed, split, epoch, purpose):
  """The stateless key of (seed, split, epoch) for noise or order."""
  fold_in = tf.random.experimental.stateless_fold_in
  return fold_in(fold_in(tf.constant([seed, _SPLIT_IDS[split]], tf.int64),
                         epoch), purpose)


def make_dataset(name, split, batch_size, data_dir=None, shuffle=None,
                 repeat=None, seed=0, drop_remainder=None, start_step=0):
  """A `tf.data.Dataset` of float32 image batches [batch, H, W, C].

  Pixels are in {0, 1} for binary datasets (`is_binary`) and integers 0..255
  for CIFAR-10. The training split of a dynamic dataset (`mnist_dynamic`,
  `omniglot`) is binarized afresh every epoch; other splits are binarized once,
  with `seed`, exactly as `load_images` returns them.

  ```python
  train = make_dataset('mnist_dynamic', 'train', 100, data_dir='data')
  x = next(iter(train))    # [100, 28, 28, 1] float32 in {0, 1}
  ```

  Args:
    name: one of `DATASETS`.
    split: 'train', 'validation' or 'test'.
    batch_size: positive int.
    data_dir: the folder holding the dataset's files, or None to use (and
      fill) the download cache.
    shuffle: reshuffle every epoch; default: `split == 'train'`.
    repeat: repeat forever; default: `split == 'train'`.
    seed: int; the same seed gives the same batches.
    drop_remainder: drop each epoch's last, smaller batch; default: `repeat`,
      so that training batches have a static shape while evaluation sees
      every image.
    start_step: begin with the batch a run of the same arguments would
      yield at this step (0-based), without computing the ones before: how a
      resumed training run continues its exact input sequence.

  Returns:
    The dataset, prefetched.

  Raises:
    ValueError: unknown `name` or `split`, a bad `batch_size` or
      `start_step`, or no whole batch in the split with `drop_remainder`.
    DatasetNotFoundError: the files are missing and cannot be downloaded.
  """
  spec = datasets.get_spec(name)
  datasets.check_split(split)
  if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
    raise ValueError(f'batch_size must be a positive int, got {batch_size!r}.')
  shuffle = split == 'train' if shuffle is None else shuffle
  repeat = split == 'train' if repeat is None else repeat
  drop_remainder = repeat if drop_remainder is None else drop_remainder
  redraw = spec.dynamic and split == 'train'
  with tf.device('/cpu:0'):  # The input pipeline's data stay in host memory.
    images = tf.convert_to_tensor(datasets.load_splits(name, data_dir)[split])
    if spec.dynamic and not redraw:
      images = binarization.binarize(
          tf.cast(images, tf.float32) / spec.levels,
          _key(seed, split, 0, _NOISE), dtype=tf.uint8)
  num_images = images.shape[0]
  num_full = num_images // batch_size
  remainder = 0 if drop_remainder else num_images % batch_size

  def epoch_batches(epoch):
    order = tf.range(num_images)
    if shuffle:
      order = tf.argsort(tf.random.stateless_uniform(
          [num_images], _key(seed, split, epoch, _ORDER)))
    batches = tf.data.Dataset.from_tensor_slices(
        tf.reshape(order[:num_full * batch_size], [num_full, batch_size]))
    if remainder:
      batches = batches.concatenate(
          tf.data.Dataset.from_tensors(order[num_full * batch_size:]))
    return batches.enumerate().map(lambda number, index: (epoch, number, index))

  def batch_images(epoch, number, index):
    pixels = tf.cast(tf.gather(images, index), tf.float32)
    if not redraw:
      return pixels
    return binarization.binarize(
        pixels / spec.levels, tf.random.experimental.stateless_fold_in(
            _key(seed, split, epoch, _NOISE), number))

  batches_per_epoch = num_full + (1 if remainder else 0)
  if repeat and not batches_per_epoch:
    raise ValueError(f'batch_size={batch_size} with drop_remainder leaves no '
                     f'batch of the {num_images} {split} images of {name!r}.')
  if start_step < 0 or (start_step and not batches_per_epoch):
    raise ValueError(f'start_step must be >= 0 (and the split non-empty); got '
                     f'{start_step}.')
  first_epoch, skip = divmod(start_step, max(batches_per_epoch, 1))
  epochs = (tf.data.Dataset.counter(start=first_epoch) if repeat
            else tf.data.Dataset.range(first_epoch, 1))
  return (epochs.flat_map(epoch_batches).skip(skip)
          .map(batch_images, num_parallel_calls=tf.data.AUTOTUNE)
          .prefetch(tf.data.AUTOTUNE))


def load_images(name, split, data_dir=None, seed=0):
  """All images of a split, in file order, as `make_dataset` yields them.

  Datasets stored in grey and binarized on the fly are binarized with `seed`:
  validation and test exactly as `make_dataset` yields them in every epoch;
  the training split gets one draw of its own (training redraws every epoch).

  Args:
    name: one of `DATASETS`.
    split: 'train', 'validation' or 'test'.
    data_dir: the folder holding the dataset's files, or None.
    seed: int.

  Returns:
    float32 [N, H, W, C].
  """
  batches = make_dataset(name, split, _LOAD_BATCH, data_dir=data_dir,
                         shuffle=False, repeat=False, seed=seed)
  return np.concatenate(list(batches.as_numpy_iterator()))


def train_mean(name, data_dir=None):
  """The mean pixel of the training split, as a probability.

  For binary datasets this is the probability that a pixel is 1 (the mean
  grey level / 255 for those binarized on the fly); for CIFAR-10 the mean
  intensity / 255. The decoder's output bias starts at its logit.

  Args:
    name: one of `DATASETS`.
    data_dir: the folder holding the dataset's files, or None.

  Returns:
    float32 [H, W, C] in [0, 1].
  """
  train = datasets.load_splits(name, data_dir)['train']
  levels = datasets.get_spec(name).levels
  return (train.mean(axis=0, dtype=np.float64) / levels).astype(np.float32)


def num_examples(name, split, data_dir=None):
  """The number of images in a split (what one epoch of `make_dataset` sees)."""
  datasets.check_split(split)
  return len(datasets.load_splits(name, data_dir)[split])
