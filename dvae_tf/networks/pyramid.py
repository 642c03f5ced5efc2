"""The scale pyramid of the multi-scale decoder (Sec. 6.1).

The conditional decoder factorizes the likelihood over scales,

    p(x | zeta, h) = p(x_0 | zeta, h) prod_{i>0} p(x_i | zeta, h, x_<i),

where x_0 is a 4x4 deterministic downsampling of x and each x_i doubles the
resolution of x_{i-1} up to the full image. Every x_{i-1} is a function of
x_i, so conditioning on x_{i-1} conditions on all of x_<i.

How images map onto the pyramid. The side is padded to P, the smallest power
of two >= max(H, W) (and >= the coarsest side): 28x28 images get 2 rows and
columns of zeros on each side (P = 32), CIFAR-10's 32x32 none. The scales are
P >> k for k = n-1 .. 0, i.e. 4, 8, 16, 32 for both datasets; a single scale
(n = 1) is the unconditional (factorial) decoder. Padding pixels are
deterministic (zero), so no factor scores them: each scale has a mask of the
pixels its factor scores.

Two downsamplings x_{i-1} = D(x_i):
- 'pool': the 2x2 maximum (the logical OR) for binary images, the rounded 2x2
  mean for 8-bit ones. Each factor scores every pixel of its scale whose 2x2
  block is not all padding. The map x -> (x_0, ..., x_n) is injective but not
  onto the product of the factors' supports, so sum_x p(x) <= 1: a
  sub-probability whose NLL is conservative.
- 'subsample': x_{i-1} = x_i[::2, ::2]. The factor of scale i > 0 scores only
  the 3 pixels of each 2x2 block that x_{i-1} does not fix. x -> (x_0 and the
  new pixels of every finer scale) is then a bijection, and the factors are
  normalized distributions over what they score, so sum_x p(x) = 1 exactly.

```python
pyramid = ImagePyramid((28, 28, 1), num_scales=4)
pyramid.sizes                      # (4, 8, 16, 32)
x_scales = pyramid.scales(x)       # [N, 4, 4, 1], ..., [N, 32, 32, 1]
```
"""

import numpy as np
import tensorflow as tf

DOWNSAMPLINGS = ('pool', 'subsample')


def _max_pool(x):
  return tf.nn.max_pool2d(x, 2, 2, 'VALID')


def _mean_pool(x):
  return tf.nn.avg_pool2d(x, 2, 2, 'VALID')


class ImagePyramid:
  """Pads images to P x P and downsamples them to the decoder's scales.

  Attributes:
    image_shape: (H, W, C) of the data.
    padded_size: P.
    sizes: the sides of the scales, coarsest first (last = P).
    padding: ((top, bottom), (left, right)) rows and columns of zeros.
    masks: per scale, a float32 [side, side] array, 1 where its factor scores
      the pixel.
  """

  def __init__(self, image_shape, num_scales=1, downsampling='pool',
               binary=True, coarsest=4):
    """Args:
      image_shape: (H, W, C).
      num_scales: n >= 1; 1 is the unconditional decoder.
      downsampling: 'pool' or 'subsample' (see the module docstring).
      binary: pixels in {0, 1} (else integers 0..255).
      coarsest: the smallest side P may be padded to.

    Raises:
      ValueError: bad `downsampling`, or more scales than halvings of P.
    """
    if downsampling not in DOWNSAMPLINGS:
      raise ValueError(f'downsampling={downsampling!r} is not one of '
                       f'{DOWNSAMPLINGS}.')
    self.image_shape = tuple(int(d) for d in image_shape)
    height, width, _ = self.image_shape
    side = max(height, width, coarsest)
    self.padded_size = int(2 ** int(np.ceil(np.log2(side))))
    if num_scales < 1 or self.padded_size >> (num_scales - 1) < 1:
      max_scales = int(np.log2(self.padded_size)) + 1
      raise ValueError(f'num_scales must be in 1..{max_scales} for a side of '
                       f'{self.padded_size}; got {num_scales}.')
    self.num_scales = num_scales
    self.downsampling = downsampling
    self.binary = binary
    self.sizes = tuple(self.padded_size >> k
                       for k in reversed(range(num_scales)))
    extra = (self.padded_size - height, self.padded_size - width)
    self.padding = tuple((e // 2, e - e // 2) for e in extra)
    self.masks = self._masks()

  def _masks(self):
    valid = np.zeros([self.padded_size] * 2, np.float32)
    (top, _), (left, _) = self.padding
    valid[top:top + self.image_shape[0], left:left + self.image_shape[1]] = 1.
    masks = [valid]
    for _ in range(self.num_scales - 1):
      fine = masks[0]
      if self.downsampling == 'pool':
        coarse = fine.reshape(fine.shape[0] // 2, 2, -1, 2).max(axis=(1, 3))
      else:
        coarse = fine[::2, ::2].copy()
        fine[::2, ::2] = 0.  # Fixed by the coarser scale.
      masks.insert(0, coarse)
    return tuple(masks)

  def pad(self, x):
    """[N, H, W, C] -> [N, P, P, C], zeros around."""
    return tf.pad(x, ((0, 0),) + self.padding + ((0, 0),))

  def crop(self, x):
    """[N, P, P, C] -> [N, H, W, C], the inverse of `pad`."""
    (top, _), (left, _) = self.padding
    return x[:, top:top + self.image_shape[0], left:left + self.image_shape[1]]

  def downsample(self, x):
    """x_{i-1} = D(x_i): [N, 2s, 2s, C] -> [N, s, s, C]."""
    if self.downsampling == 'subsample':
      return x[:, ::2, ::2]
    if self.binary:
      return _max_pool(x)
    return tf.round(_mean_pool(x))

  def scales(self, x):
    """The pyramid of images [N, H, W, C]: [N, s, s, C] coarsest first."""
    levels = [self.pad(x)]
    for _ in range(self.num_scales - 1):
      levels.insert(0, self.downsample(levels[0]))
    return levels
