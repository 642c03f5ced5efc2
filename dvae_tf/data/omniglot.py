"""28x28 Omniglot with Burda et al.'s (2015) split, from the 105x105 drawings.

The VAE benchmark (Burda et al. 2015; DVAE++ Tables 1-3) uses their
`chardata.mat`: 28x28 grey images, 24,345 for training and 8,070 for test,
binarized stochastically. When only the original drawings are at hand
(`omniglot.npz`: all 32,460 images, 1,623 characters x 20 drawers, 105x105,
True = white page) we rebuild it as follows.

Downsampling: ink (False in the file) is 1; each 28x28 pixel is the exact area
average of the ink under it (a box filter: 105 / 28 = 3.75 source pixels a
side, partial pixels weighted by their overlap), quantized to grey levels
0..255. No threshold: like `chardata.mat` the result is grey and is binarized
stochastically, afresh each training epoch (`binarization.py`).

Split: 24,345 = 1,623 x 15, so Burda's training set is 15 of the 20 drawers of
every character. `chardata.mat` does not record which, so we take, for every
character, its first 15 drawings in file order for training and its other 5
for test. The training set then has exactly 24,345 images; the test set has
8,115, 45 more than Burda's 8,070, whose missing 45 cannot be identified.

Validation (either source): every 18th training image, counting from the 18th
(`train[17::18]`), is held out: 1,352 of 24,345 images, close to the 1,345
that public Burda-based loaders hold out, with 22,993 left for training. A
stride needs no random generator, so the split is the same everywhere.
"""

import numpy as np

from dvae_tf.data import sources

TRAIN_DRAWERS = 15
VALIDATION_STRIDE = 18
_CHUNK = 2048


def _area_weights(source, target):
  """[target, source] box-filter weights; row i covers output pixel i."""
  scale = source / target
  edges = np.arange(target + 1) * scale
  left = np.arange(source)
  overlap = (np.minimum(edges[1:, None], left[None, :] + 1) -
             np.maximum(edges[:-1, None], left[None, :]))
  return np.clip(overlap, 0., None).astype(np.float32) / scale


def downsample(ink, side=28):
  """Area-averages binary drawings to `side` x `side` grey levels.

  Args:
    ink: bool [N, S, S], True where there is ink.
    side: the output height and width.

  Returns:
    uint8 [N, side, side]: 255 times the fraction of each output pixel's area
    that is ink, rounded.
  """
  weights = _area_weights(ink.shape[-1], side)
  grey = np.empty(ink.shape[:1] + (side, side), np.uint8)
  for start in range(0, len(ink), _CHUNK):
    chunk = ink[start:start + _CHUNK].astype(np.float32)
    grey[start:start + _CHUNK] = np.rint(
        255. * (weights @ chunk @ weights.T))
  return grey


def drawer_split(characters, train_drawers=TRAIN_DRAWERS):
  """Marks each character's first `train_drawers` images, in file order.

  Args:
    characters: int [N], the character id of each image.
    train_drawers: how many drawings of each character go to training.

  Returns:
    bool [N], True for training images.
  """
  order = np.argsort(characters, kind='stable')
  sorted_ids = characters[order]
  group_start = np.searchsorted(sorted_ids, sorted_ids, side='left')
  rank = np.empty(len(characters), np.int64)
  rank[order] = np.arange(len(characters)) - group_start
  return rank < train_drawers


def hold_out_validation(train):
  """Splits every `VALIDATION_STRIDE`-th image off `train`.

  Args:
    train: array [N, ...].

  Returns:
    `(train, validation)`: validation is `train[17::18]`, train the rest.
  """
  held_out = np.zeros(len(train), bool)
  held_out[VALIDATION_STRIDE - 1::VALIDATION_STRIDE] = True
  return train[~held_out], train[held_out]


def read_chardata(path):
  """Burda's train and test images from `chardata.mat`, as grey levels.

  Args:
    path: the file (see `sources.read_chardata_mat`).

  Returns:
    `(train, test)`: uint8 [N, 28, 28] grey levels, ink high.
  """
  return tuple(np.rint(255. * np.clip(images, 0., 1.)).astype(np.uint8)
               for images in sources.read_chardata_mat(path))


def read_npz(path):
  """Burda-style train and test grey images from `omniglot.npz`.

  Args:
    path: the file (see `sources.read_omniglot_npz`).

  Returns:
    `(train, test)`: uint8 [N, 28, 28] grey levels, ink high.
  """
  ink, characters = sources.read_omniglot_npz(path)
  is_train = drawer_split(characters)
  grey = downsample(ink)
  return grey[is_train], grey[~is_train]
