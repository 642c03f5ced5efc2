"""The importance-weighted bound in the binary limit (Burda et al. 2015).

    log p(x) >= L_k = E[log (1/k) sum_j w_j],
    w_j = p(x | z_j) p(z_j) / q(z_j | x),  z_j ~ q(z | x),

with z binary (beta -> infinity: each relaxed unit replaced by its Bernoulli
variable), so L_k is a bound on the discrete model's log-likelihood and
increases with k to log p(x). For an RBM prior, log p(z) = -E(z) - log Z
needs log Z: the prior's stored value, which
`Prior.refresh_log_normalizer` computes (exact or AIS) before evaluating.
`dvae_tf.evaluation.report` scores a trained run directory with it.
"""

import keras
import numpy as np
import tensorflow as tf

# The paper's k for test log-likelihoods (Sec. 7), and images per batch.
NUM_IMPORTANCE_SAMPLES = 4000
BATCH_SIZE = 100


def importance_weighted_bound(model, x, num_samples, seed=(0, 0),
                              chunk_size=None):
  """L_k for each image, computed `chunk_size` samples at a time.

  Samples are drawn in chunks inside a `tf.while_loop` and combined with a
  running log-sum-exp, so 4000 samples per image need only the memory of one
  chunk. k may be a runtime tensor (an input of an exported signature): the
  chunking is then computed in the graph.

  Args:
    model: a `models.DiscreteVAE` (`log_importance_weights(x, seed,
      num_samples)` -> [num_samples N], sample-major; `max_evaluation_rows`).
    x: images [B, H, W, C].
    num_samples: k, a positive Python integer or a scalar int32 tensor.
    seed: stateless seed.
    chunk_size: samples per chunk (default: as many as fit the model's
      `max_evaluation_rows` rows).

  Returns:
    [B] values of L_k in nats.
  """
  x = tf.convert_to_tensor(x, tf.float32)
  if tf.is_tensor(num_samples):
    # Python min/max cannot compare tensors; the arithmetic below is shared.
    minimum, maximum = tf.minimum, tf.maximum
    num_samples = tf.cast(num_samples, tf.int32)
    with tf.control_dependencies([tf.debugging.assert_positive(
        num_samples, message='num_samples must be a positive integer')]):
      num_samples = tf.identity(num_samples)
    batch = tf.shape(x)[0]
  else:
    minimum, maximum = min, max
    num_samples = int(num_samples)
    if num_samples < 1:
      raise ValueError(f'num_samples must be a positive integer; got '
                       f'{num_samples}.')
    batch = int(x.shape[0] or 1)
  if chunk_size is None:
    rows = model.max_evaluation_rows
    chunk_size = maximum(1, minimum(num_samples, rows // maximum(batch, 1)))
  chunk_size = minimum(chunk_size, num_samples)
  num_chunks = -(-num_samples // chunk_size)
  seed = tf.convert_to_tensor(seed, tf.int32)

  def body(i, total):
    log_w = model.log_importance_weights(
        x, tf.random.experimental.stateless_fold_in(seed, i),
        num_samples=chunk_size)
    log_w = tf.reshape(log_w, [chunk_size, -1])
    # The last chunk may hold more samples than remain; mask the excess.
    valid = i * chunk_size + tf.range(chunk_size) < num_samples
    log_w = tf.where(valid[:, None], log_w, -np.inf)
    return i + 1, tf.reduce_logsumexp(
        tf.concat([total[None], log_w], axis=0), axis=0)

  total = tf.fill(tf.shape(x)[:1], tf.constant(-np.inf, tf.float32))
  _, total = tf.while_loop(lambda i, _: i < num_chunks, body,
                           (tf.constant(0), total))
  return total - tf.math.log(tf.cast(num_samples, total.dtype))


def per_image_nll(model, images, num_samples, batch_size=BATCH_SIZE, seed=0,
                  verbose=False, strategy=None, scored=(), on_round=None):
  """-L_k (nats) of each of `images`, float64 [N].

  Batch b holds images b B ... (b + 1) B - 1 (B = `batch_size`, or N when
  fewer images are given; the last batch is padded with copies of its last
  image, so all have one shape) and
  is scored with the seed (seed, b). An image's NLL therefore depends only on
  its index, the seed and B, not on the device that scores it: under a
  `strategy` with R replicas, batches b R ... b R + R - 1 go to replicas
  0 ... R - 1 at once and their values are gathered in order (on every
  worker), equal to a single device's to float32 rounding.

  Args:
    model: a trained model (see `importance_weighted_bound`), built under
      `strategy` if one is given.
    images: numpy array [N, H, W, C].
    num_samples: importance samples per image.
    batch_size: images per batch.
    seed: int seed.
    verbose: show a progress bar of the images scored.
    strategy: a `tf.distribute.Strategy` to split the batches over (default:
      the current one).
    scored: the NLLs of the first images, from an earlier call with the same
      arguments that was interrupted; its whole batches are kept and scoring
      resumes at the next batch (the seeds are keyed by batch index, so the
      result is the uninterrupted one).
    on_round: called after each round of batches with the NLLs of all images
      scored so far (float64, a whole number of batches), e.g. to save them.
  """
  if batch_size > model.max_evaluation_rows:
    raise ValueError(
        f'batch_size={batch_size} exceeds the {model.max_evaluation_rows} '
        'rows this model evaluates at once; use --batch_size of at most '
        f'{model.max_evaluation_rows}.')
  strategy = strategy or tf.distribute.get_strategy()
  num_replicas = strategy.num_replicas_in_sync
  num_images = len(images)
  if not num_images:
    raise ValueError('No images to score: give at least one image.')
  batch_size = min(batch_size, num_images)
  num_batches = -(-num_images // batch_size)
  padding = num_batches * batch_size - num_images
  images = np.concatenate([images, np.repeat(images[-1:], padding, axis=0)])
  progbar = keras.utils.Progbar(num_images, verbose=1 if verbose else 0,
                                unit_name='image')
  start = min(len(scored) // batch_size, num_batches)
  nll = np.asarray(scored, np.float64)[:start * batch_size]
  progbar.add(min(len(nll), num_images))

  def batch(b):
    b = min(b, num_batches - 1)  # Past the end: a repeat, dropped below.
    return (tf.convert_to_tensor(images[b * batch_size:(b + 1) * batch_size],
                                 tf.float32),
            tf.constant([seed, b], tf.int32))

  def replica_bound(x, s):
    return importance_weighted_bound(model, x, num_samples, seed=s)

  @tf.function
  def round_bounds(batches):
    # [R * B]: replica r's batch at rows r B ... (r + 1) B - 1.
    return strategy.gather(strategy.run(replica_bound, args=batches), axis=0)

  single = tf.function(replica_bound)

  for first in range(start, num_batches, num_replicas):
    if num_replicas == 1:
      values = single(*batch(first))
    else:
      values = round_bounds(
          strategy.experimental_distribute_values_from_function(
              lambda context: batch(first + context.replica_id_in_sync_group)))
    rows = min(num_replicas, num_batches - first) * batch_size
    nll = np.concatenate([nll, -values.numpy()[:rows].astype(np.float64)])
    progbar.add(min(rows, num_images - first * batch_size))
    if on_round is not None:
      on_round(nll)
  return nll[:num_images]


def _mean_and_stderr(values):
  """Mean of `values` and its standard error sd / sqrt(N) (NaN for N = 1)."""
  values = np.asarray(values, np.float64)
  stderr = (values.std(ddof=1) / np.sqrt(len(values)) if len(values) > 1
            else np.nan)
  return float(values.mean()), float(stderr)


def summarize(nll, num_samples):
  """Mean NLL and its standard error over images, sd(nll) / sqrt(N)."""
  mean, stderr = _mean_and_stderr(nll)
  return {'nll': mean, 'stderr': stderr, 'num_images': int(len(nll)),
          'num_importance_samples': int(num_samples)}


def paired_difference(nll, baseline_nll):
  """Mean of nll - baseline_nll over the same images, with its standard error.

  Two models scored on the same test images share the images' difficulty, so
  the standard error of the mean difference, sd(nll_i - baseline_i) /
  sqrt(N), is usually far smaller than either model's own standard error:
  this is the error bar for "model A beats model B".

  Args:
    nll: per-image NLL of a model, [N].
    baseline_nll: per-image NLL of another model on the same N images.

  Returns:
    dict with `difference` (negative: `nll` is the better model), `stderr`,
    `num_images`.

  Raises:
    ValueError: the arrays differ in length, so they cannot be the same
      images.
  """
  nll = np.asarray(nll, np.float64)
  baseline_nll = np.asarray(baseline_nll, np.float64)
  if nll.shape != baseline_nll.shape or nll.ndim != 1:
    raise ValueError(
        f'Paired comparison needs per-image NLLs of the same images; got '
        f'shapes {nll.shape} and {baseline_nll.shape}. Evaluate both models '
        'with the same --split and --max_images.')
  difference, stderr = _mean_and_stderr(nll - baseline_nll)
  return {'difference': difference, 'stderr': stderr,
          'num_images': int(len(nll))}


def bits_per_dim(nats, image_shape):
  """Nats per image -> bits per dimension, the unit of CIFAR-10 in Table 3.

  nats / (H W C log 2), for the negative log-likelihood of 8-bit values.
  """
  return nats / (float(np.prod(image_shape)) * np.log(2.))
