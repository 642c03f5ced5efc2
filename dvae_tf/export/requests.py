"""What a request to an exported model may be, checked inside the graph.

A SavedModel's runtime trusts a declared input shape without checking it, so
the signatures declare inputs of unknown shape and check each one here: its
rank and sizes, its values (`PixelFormat`) and its size against the export's
`ServingLimits`. A failed check fails the call with INVALID_ARGUMENT and a
message naming the input; the model then runs on a valid stand-in, so none of
its ops can fail first with a less clear error (`_checked`).
"""

import dataclasses

import tensorflow as tf

from dvae_tf import data
from dvae_tf import ranges

# Unknown shapes: the runtime does not check a declared shape against the fed
# tensor, so the signatures check shapes themselves (see `_checked`).
IMAGES_SPEC = tf.TensorSpec(None, tf.float32, name='images')
SEED_SPEC = tf.TensorSpec(None, tf.int32, name='seed')


# Values an error message shows of each tensor (shapes are shown whole).
_MAX_SHOWN = 16


def count_spec(name):
  return tf.TensorSpec(None, tf.int32, name=name)


def shape_text(shape):
  return '[' + ', '.join('N' if d is None else str(d) for d in shape) + ']'


def _has_shape(x, shape):
  """Whether `x` has `shape` (None: any size), as a boolean tensor.

  Safe for a tensor of any rank: the sizes compared are padded, never indexed
  past the end.
  """
  rank = len(shape)
  result = tf.equal(tf.rank(x), rank)
  known = [i for i, d in enumerate(shape) if d is not None]
  if known:
    padded = tf.concat([tf.shape(x), tf.fill([rank], -1)], 0)[:rank]
    result &= tf.reduce_all(
        tf.equal(tf.gather(padded, known), [shape[i] for i in known]))
  return result


def _checked(x, checks, stand_in):
  """`x` if every check holds, else `stand_in` (a valid input).

  Each check is (condition, message): a false condition fails the call with
  INVALID_ARGUMENT and the message (a list of strings and tensors). Graph
  optimizations do not keep control dependencies in order, so the model
  cannot simply be made to wait for the assertions; instead it gets
  `stand_in` when a check fails, and none of its ops can fail first with a
  less clear error.
  """
  for condition, message in checks:
    tf.debugging.Assert(condition, message, summarize=_MAX_SHOWN)
  ok = tf.reduce_all(tf.stack([condition for condition, _ in checks]))
  return tf.cond(ok, lambda: tf.identity(x), lambda: stand_in)


@dataclasses.dataclass(frozen=True)
class ServingLimits:
  """The largest request each signature accepts.

  The limits bound a request's memory and its time: `log_likelihood` draws
  its importance samples in chunks (`evaluation.importance_weighted_bound`),
  so its memory is bounded by the model, but its time grows with images x
  importance samples, which `max_importance_weights` bounds. A `sample`
  call's Gibbs sweeps are the model's, fixed at export
  (`sample_gibbs_sweeps` in the metadata), so `max_samples` bounds its time.

  Attributes:
    max_samples: `num_samples` of one `sample` call.
    max_images: images of one `encode`, `reconstruct` or `log_likelihood`
      call.
    max_importance_samples: `num_importance_samples` of one
      `log_likelihood` call.
    max_importance_weights: images x `num_importance_samples` of one
      `log_likelihood` call (the importance weights it computes). The
      default keeps a call of the default feed-forward model to about a
      minute on two shared CPU cores (0.04 to 0.07 ms a weight); DVAE++
      takes 2 to 40 ms a weight (the `cpu` to the `mnist` architecture), so
      export it with 1,500 to 25,000 for about a minute.
  """
  max_samples: int = 10_000
  max_images: int = 1_000
  max_importance_samples: int = 100_000
  max_importance_weights: int = 1_000_000

  def __post_init__(self):
    for name, value in dataclasses.asdict(self).items():
      # A product of two int32 counts; the signature compares it in int64.
      ranges.check_count(name, value, maximum=(
          ranges.MAX_INT64 if name == 'max_importance_weights' else
          ranges.MAX_INT32))

  @classmethod
  def of_metadata(cls, metadata):
    """The limits an export's metadata records.

    Limits an older export does not record (it was made before they
    existed) take their defaults.
    """
    return cls(**metadata.get('limits', {}))


def checked_count(n, name, maximum):
  """A scalar count, checked to lie in [1, maximum]."""
  n = _checked(n, [
      (_has_shape(n, []), [f'{name} must be a scalar; got shape', tf.shape(n)]),
      (tf.reduce_all(n > 0), [f'{name} must be a positive integer; got', n]),
      (tf.reduce_all(n <= maximum), [
          f'{name} must be at most {maximum} (the limit this model was '
          'exported with); got', n]),
  ], tf.constant(1))
  return tf.ensure_shape(n, [])


def checked_importance_samples(images, k, maximum):
  """`k`, checked so that the importance weights N x k are at most `maximum`.

  Args:
    images: checked images [N, H, W, C] (`checked_images`).
    k: the checked scalar `num_importance_samples` (`checked_count`).
    maximum: `ServingLimits.max_importance_weights`.
  """
  # int64: both factors are int32 counts.
  weights = tf.cast(tf.shape(images)[0], tf.int64) * tf.cast(k, tf.int64)
  k = _checked(k, [(weights <= maximum, [
      f'images x num_importance_samples must be at most {maximum} '
      '(max_importance_weights, the limit this model was exported with); '
      'got', tf.shape(images)[0], 'x', k, '=', weights])], tf.constant(1))
  return tf.ensure_shape(k, [])


def checked_seed(seed):
  """A stateless seed, checked to have shape [2]."""
  seed = _checked(seed, [(_has_shape(seed, [2]), [
      'seed must be an int32 vector of shape [2]; got shape', tf.shape(seed)])],
                  tf.zeros([2], tf.int32))
  return tf.ensure_shape(seed, [2])


@dataclasses.dataclass(frozen=True)
class PixelFormat:
  """The pixels a model takes: values in [0, max_value], only 0 and 1 if binary.

  Attributes:
    binary: whether pixels are 0 or 1 (MNIST, Omniglot, Caltech-101).
    max_value: the largest pixel value (1; 255 for 8-bit images such as
      CIFAR-10, which the data pipeline yields as 0..255).
  """
  binary: bool = True
  max_value: float = 1.

  @classmethod
  def of_dataset(cls, name):
    """The pixels of dataset `name` as `data.make_dataset` yields them."""
    spec = data.get_spec(name)
    return cls(True, 1.) if spec.binary else cls(False, float(spec.levels))


def checked_images(images, image_shape, pixels, max_images):
  """Images [N, H, W, C] checked for shape, values (a `PixelFormat`) and N."""
  shape = [None, *image_shape]
  checks = [
      (_has_shape(images, shape),
       [f'images must have shape {shape_text(shape)}; got shape',
        tf.shape(images)]),
      (tf.reduce_all(tf.shape(images)[:1] <= max_images), [
          f'images: at most {max_images} per call (the limit this model was '
          'exported with); got', tf.shape(images)[:1]]),
      (tf.reduce_all((images >= 0.) & (images <= pixels.max_value)),
       [f'images: pixel values must lie in [0, {pixels.max_value:g}]; got '
        'values from', tf.reduce_min(images), 'to', tf.reduce_max(images)]),
  ]
  if pixels.binary:
    # Values outside [0, 1] are the range check's to report.
    between = (images > 0.) & (images < 1.)
    checks.append((tf.logical_not(tf.reduce_any(between)), [
        'images: this model takes binary pixels, 0 or 1; got',
        tf.math.count_nonzero(between), 'pixels strictly between 0 and 1']))
  images = _checked(images, checks, tf.zeros([1, *image_shape]))
  return tf.ensure_shape(images, shape)

