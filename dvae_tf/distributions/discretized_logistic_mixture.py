"""The mixture of discretized logistics (Salimans et al. 2017) for 8-bit pixels.

The likelihood of colour images in DVAE++ (Sec. 6.1): each pixel's C channel
values v_c in {0, ..., L - 1} (L = 256 levels) have the probability

    p(v) = sum_k pi_k prod_c P(v_c; mu_kc, s_kc),
    P(v; mu, s) = F((v + 1/2 - mu) / s) - F((v - 1/2 - mu) / s),  0 < v < L-1,
    P(0; mu, s) = F((1/2 - mu) / s),  P(L-1; mu, s) = 1 - F((L-3/2 - mu) / s),

with F the logistic CDF: the logistic's mass on the bin of width 1 around v,
the two edge bins taking the tails, so the L values of each component sum to
one. The component k is shared by the channels of a pixel (as in PixelCNN++),
which correlates them; the channels are independent given it (the linear
channel coefficients of PixelCNN++ are not used: the decoder is factorial
within a scale).

It is assembled from TFP pieces: `QuantizedDistribution(Logistic(mu - 1/2,
s), low=0, high=L-1)` puts the mass of (v - 1, v] of the shifted logistic on v,
which is the bin (v - 1/2, v + 1/2] of Logistic(mu, s); `Independent` makes
the channels one event; `MixtureSameFamily` mixes the components. Log
probabilities come from log CDFs and log survival functions, so tails and
narrow components stay finite in float32.

```python
dist = discretized_logistic_mixture(logits=tf.zeros([4, 10]),
                                    loc=tf.fill([4, 10, 3], 128.),
                                    scale=tf.fill([4, 10, 3], 20.))
dist.log_prob(tf.fill([4, 3], 130.))   # [4], log p of one pixel each
```
"""

import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions

NUM_LEVELS = 256


def discretized_logistic_mixture(logits, loc, scale, num_levels=NUM_LEVELS):
  """p(v) over {0, ..., num_levels - 1}^C, a mixture of K discretized logistics.

  Args:
    logits: [..., K] mixture logits of pi.
    loc: [..., K, C] locations mu in pixel units (0 .. num_levels - 1).
    scale: [..., K, C] positive scales s in pixel units.
    num_levels: L, the number of integer values of a channel.

  Returns:
    A `tfd.MixtureSameFamily` with batch shape [...] and event shape [C], whose
    `log_prob` takes integer-valued float pixels [..., C].

  Raises:
    ValueError: if the static shapes of `logits`, `loc` and `scale` disagree.
  """
  logits = tf.convert_to_tensor(logits)
  loc = tf.convert_to_tensor(loc, logits.dtype)
  scale = tf.convert_to_tensor(scale, logits.dtype)
  if loc.shape.rank is not None and logits.shape.rank is not None and (
      loc.shape.rank != logits.shape.rank + 1 or
      not loc.shape[:-1].is_compatible_with(logits.shape)):
    raise ValueError(
        f'discretized_logistic_mixture: loc must be [..., K, C] with logits '
        f'[..., K]; got loc {loc.shape} and logits {logits.shape}.')
  if not loc.shape.is_compatible_with(scale.shape):
    raise ValueError(f'discretized_logistic_mixture: scale must have the shape '
                     f'of loc {loc.shape}; got {scale.shape}.')
  channels = tfd.QuantizedDistribution(
      tfd.Logistic(loc=loc - 0.5, scale=scale), low=0., high=num_levels - 1.)
  return tfd.MixtureSameFamily(
      mixture_distribution=tfd.Categorical(logits=logits),
      components_distribution=tfd.Independent(channels,
                                              reinterpreted_batch_ndims=1))
