"""The hierarchical posterior of Fig. 2(d) over groups of latent variables.

    q(z | x) = q(z_1 | f) prod_{i>1} q(z_i | f, zeta_<i),

each group's network reading the features f of x and the earlier groups'
zetas (or, in the binary limit, binary z). It is the posterior of the
feed-forward models and of DVAE++'s global variables; the latent type of the
groups (`dvae_tf.math.latents`) says what a network's output means.
`hierarchical_relaxed` samples it for training, `hierarchical_exact` in the
binary limit for evaluation; both return a `PosteriorSample`.
"""

import dataclasses

import keras
import tensorflow as tf

from dvae_tf import philox
from dvae_tf.networks import mlp


@dataclasses.dataclass
class PosteriorSample:
  """One sample from the hierarchical posterior, per group (Fig. 2(d)).

  Attributes:
    params: [N, units_i * P] the network outputs of group i: logits of
      q(z_i = 1 | x, zeta_<i) for binary groups, [loc | raw scale] for
      Normal ones.
    samples: [N, units_i] the sampled variables (zeta, or logit-space y for
      Concrete); the binary z in the binary limit.
    zetas: [N, units_i] what later groups and the decoder see.
    distributions: the smoothed posterior mixtures (None in the binary limit).
  """
  params: list
  samples: list
  zetas: list
  distributions: list


def hierarchical_relaxed(nets, features, latent, beta, seed, training=False):
  """A relaxed sample of q(z_1 | f) prod_i q(z_i | f, zeta_<i), Fig. 2(d).

  Args:
    nets: one network per group, [f, zeta_<i] -> params of group i.
    features: [N, F] features f of x.
    latent: the latent type of every group.
    beta: inverse temperature of the smoothing.
    seed: stateless seed.
    training: passed to the networks.

  Returns:
    A `PosteriorSample`.
  """
  seeds = philox.split(seed, n=len(nets))
  params, samples, zetas, distributions = [], [], [], []
  for net, group_seed in zip(nets, seeds):
    p = net(tf.concat([features, latent.network_input(zetas)], axis=-1)
            if zetas else features, training=training)
    distribution, sample, zeta = latent.relaxed_sample(p, beta, group_seed)
    params.append(p)
    distributions.append(distribution)
    samples.append(sample)
    zetas.append(zeta)
  return PosteriorSample(params, samples, zetas, distributions)


def apply_to_tiled(net, features, extra, num_samples, training=False):
  """net([f, e]) for the rows [tile(f, k), e] without tiling f.

  The first layer is linear, so f's part of it is computed once for each of
  the N rows of `features` [N, F] and broadcast over the k = `num_samples`
  rows of `extra` [k N, E] that share it (`networks.mlp.linear_of_concat`).
  For the hierarchical posterior's groups after the first, at k importance
  samples this saves k - 1 of k products with the F = 784 pixels.

  Args:
    net: a `keras.Sequential` whose first layer is a `keras.layers.Dense`
      without activation (as `networks.mlp` builds).
    features: [N, F].
    extra: [k N, E].
    num_samples: k.
    training: for batch normalization.

  Returns:
    [k N, output units], equal to net(concat([tile(f, [k, 1]), e], -1)) up
    to float rounding.
  """
  first, *rest = net.layers
  if not isinstance(first, keras.layers.Dense) or (
      first.activation is not keras.activations.linear):
    raise ValueError(f'apply_to_tiled: the first layer of {net.name} must '
                     'be a Dense layer without activation.')
  h = mlp.linear_of_concat(first.kernel, first.bias if first.use_bias else None,
                           [(features, True), (extra, False)], num_samples)
  for layer in rest:
    h = layer(h, training=training)
  return h


def hierarchical_exact(nets, features, latent, seed=None, training=False,
                       num_samples=1):
  """The unrelaxed hierarchical posterior: z_i ~ q(z_i | f, z_<i).

  Binary units in the binary limit (zeta = z), continuous ones as they are.
  With `seed=None`, each group's mode (or mean) instead of a sample.

  With `num_samples` = k, k samples per row of `features` [N, F], laid out
  as for features tiled k times ([k N] rows, sample-major) and drawn from
  the same random numbers; q(z_1 | f) depends on f only, so its network runs
  once per row and its params are tiled.

  Returns:
    (PosteriorSample with zetas = samples = z, [k N] rows; log q(z | x)
    [k N]).
  """
  seeds = (philox.split(seed, n=len(nets)) if seed is not None
           else [None] * len(nets))
  params, zs, log_q = [], [], 0.
  for net, group_seed in zip(nets, seeds):
    if zs and isinstance(num_samples, int) and num_samples == 1:
      p = net(tf.concat([features, latent.network_input(zs)], axis=-1),
              training=training)
    elif zs:  # f's part of the first layer once per row (`apply_to_tiled`).
      p = apply_to_tiled(net, features, latent.network_input(zs),
                         num_samples, training=training)
    else:  # q(z_1 | f): once per row of f, then tiled.
      p = tf.tile(net(features, training=training), [num_samples, 1])
    z, group_log_q = latent.exact_sample(p, group_seed)
    params.append(p)
    zs.append(z)
    log_q += group_log_q
  return PosteriorSample(params, zs, zs, None), log_q
