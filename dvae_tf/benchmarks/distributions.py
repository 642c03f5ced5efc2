"""Sampling throughput of the smoothing distributions and RBM Gibbs sweeps.

Compares `OverlappingExponential` (inverse CDF of Eq. 3) with TFP's
`RelaxedBernoulli` (Concrete) on the same shapes inside `tf.function`; the
target is a time ratio of at most 1.25. Also times `OverlappingPower` (the
implicit-gradient sampler) and block Gibbs sweeps of a 100 + 100 RBM.
"""

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from dvae_tf import distributions
from dvae_tf.benchmarks import timing

tfd = tfp.distributions

TARGET_RATIO = 1.25


def _sampler(make_dist, shape, beta):
  """A tf.function drawing one sample of the given shape, and its gradient."""
  logits = tf.Variable(tf.random.stateless_normal(shape, seed=[0, 1]))

  @tf.function
  def sample_and_grad(seed):
    with tf.GradientTape() as tape:
      zeta = make_dist(logits, beta).sample(seed=seed)
      loss = tf.reduce_sum(zeta * zeta)
    return zeta, tape.gradient(loss, logits)

  @tf.function
  def sample(seed):
    return make_dist(logits, beta).sample(seed=seed)

  seed = tf.constant([1, 2])
  return lambda: sample(seed), lambda: sample_and_grad(seed)


SAMPLERS = {
    'overlapping_exponential': lambda l, b: distributions.OverlappingExponential(
        beta=b, logits=l),
    'overlapping_power': lambda l, b: distributions.OverlappingPower(
        beta=b, logits=l),
    # RelaxedBernoulli's temperature is 1/beta.
    'relaxed_bernoulli': lambda l, b: tfd.RelaxedBernoulli(
        temperature=1. / b, logits=l),
}


def sampling_rows(shapes, beta=10., repeats=7):
  rows = []
  for shape in shapes:
    fns = {}
    for name, make in SAMPLERS.items():
      forward, backward = _sampler(make, shape, beta)
      fns[(name, 'sample')] = forward
      fns[(name, 'sample+grad')] = backward
    seconds = timing.interleaved_seconds(fns, repeats=repeats)
    for mode in ('sample', 'sample+grad'):
      base = seconds[('relaxed_bernoulli', mode)]
      for name in SAMPLERS:
        t = seconds[(name, mode)]
        rows.append({
            'shape': 'x'.join(map(str, shape)),
            'mode': mode,
            'distribution': name,
            'ms_per_call': 1e3 * t,
            'samples_per_s': float(np.prod(shape)) / t,
            'ratio_to_relaxed_bernoulli': t / base,
        })
  return rows


def gibbs_row(num_left=100, num_right=100, num_chains=100, num_sweeps=100,
              repeats=5):
  rng = np.random.default_rng(0)
  rbm = distributions.RBM(
      rng.normal(0, .1, num_left).astype(np.float32),
      rng.normal(0, .1, num_right).astype(np.float32),
      rng.normal(0, .1, (num_left, num_right)).astype(np.float32))
  z = tf.zeros([num_chains, num_left + num_right])
  seed = tf.constant([3, 4])
  gibbs = tf.function(lambda: rbm.block_gibbs(z, num_sweeps, seed))
  gibbs_xla = tf.function(lambda: rbm.block_gibbs(z, num_sweeps, seed),
                          jit_compile=True)
  seconds = timing.interleaved_seconds(
      {'tf.function': gibbs, 'tf.function(jit_compile=True)': gibbs_xla},
      repeats=repeats, inner=3)
  return [{
      'rbm': f'{num_left}+{num_right}',
      'chains': num_chains,
      'compiled': name,
      'sweeps_per_s': num_sweeps / t,
  } for name, t in seconds.items()]


def distributions_suite(quick=False, data_dir=None, **unused_options):
  """Runs the suite; `quick` shrinks it to a smoke test."""
  del data_dir  # Synthetic inputs only.
  shapes = [(10, 20)] if quick else [(100, 200), (1000, 200)]
  repeats = 2 if quick else 9
  sampling = sampling_rows(shapes, repeats=repeats)
  gibbs = gibbs_row(num_sweeps=5 if quick else 100,
                    repeats=2 if quick else 5)
  # The target is on sampling; sample+grad is reported for information.
  worst = max(r['ratio_to_relaxed_bernoulli'] for r in sampling
              if r['distribution'] == 'overlapping_exponential'
              and r['mode'] == 'sample')
  return {
      'tables': {'sampling': sampling, 'rbm_gibbs': gibbs},
      'summary': {
          'worst_overlapping_exponential_ratio': worst,
          'target_ratio': TARGET_RATIO,
          'meets_target': worst <= TARGET_RATIO,
      },
  }
