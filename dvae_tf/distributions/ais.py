"""Annealed importance sampling (Neal 2001) of a Boltzmann machine's log Z.

For machines too large to enumerate (`BoltzmannMachine.log_normalizer` needs
at most 24 units outside the largest colour class), log Z is estimated as in
Salakhutdinov & Murray (2008). The largest colour class c* is summed out
analytically (`BoltzmannMachine.marginal_log_prob`; for an RBM the larger
side), leaving the marginal over the other units z_r at inverse temperature
t in [0, 1],

    log f_t(z_r) = log sum_{z_c*} exp(-t E(z)),

which at t = 0 is uniform with normalizer Z_0 = 2^n and at t = 1 is the
machine's marginal with normalizer Z. Each chain starts from the uniform
distribution, and for t_0 = 0 < t_1 < ... < t_K = 1 accumulates the log weight

    log w = sum_k [log f_{t_k}(z_r^(k-1)) - log f_{t_(k-1)}(z_r^(k-1))],

moving z_r^(k) by one block Gibbs sweep of the machine at inverse
temperature t_k, class c* first (`BoltzmannMachine.tempered_sweep`, which
leaves f_{t_k} invariant). Then E[w] = Z / Z_0, so

    log Z = log Z_0 + log mean_c exp(log w_c),

computed with a log-sum-exp. The standard error of log Z comes from the delta
method, stderr(mean w) / mean w, evaluated on weights rescaled by their
maximum so nothing overflows. This estimator is unbiased in Z, hence biased
low (stochastically) in log Z.
"""

import numpy as np
import tensorflow as tf

from tensorflow_probability.python.internal import samplers

from dvae_tf.distributions import boltzmann_machine
from dvae_tf import philox

# The paper's evaluation setting (Sec. 7): 1024 chains, 1000 temperatures.
PAPER_AIS_CHAINS = 1024
PAPER_AIS_TEMPERATURES = 1000
# The quick AIS of the log Z refreshes while training (monitoring only;
# evaluation and export use the paper's settings).
MONITOR_AIS_CHAINS = 100
MONITOR_AIS_TEMPERATURES = 300


# Memory AIS takes per chain and unit (the states, their uniforms and
# conditional probabilities): measured 14.0 bytes by tests/test_memory.py,
# which checks this bounds it; and per inverse temperature (the schedule).
AIS_BYTES_PER_CHAIN_UNIT = 16
AIS_BYTES_PER_TEMPERATURE = 8
# The most inverse temperatures: 1000 times the paper's (each is a sweep of
# every chain, so more would run for days).
MAX_AIS_TEMPERATURES = 1_000_000


def check_ais_fits(num_chains, num_temperatures, num_units, free, where):
  """ValueError (one line naming the flag and what fits) unless AIS with
  these settings over `num_units` units stays within `MAX_AIS_TEMPERATURES`
  and its memory (`AIS_BYTES_PER_CHAIN_UNIT`, `AIS_BYTES_PER_TEMPERATURE`)
  fits in `free` bytes, free on `where`."""
  if num_temperatures > MAX_AIS_TEMPERATURES:
    raise ValueError(
        f'ais_temperatures={num_temperatures} is more than '
        f'{MAX_AIS_TEMPERATURES} (the paper takes {PAPER_AIS_TEMPERATURES}; '
        'each is a sweep of every chain); use at most '
        f'ais_temperatures={MAX_AIS_TEMPERATURES}.')
  schedule = AIS_BYTES_PER_TEMPERATURE * num_temperatures
  needed = AIS_BYTES_PER_CHAIN_UNIT * num_chains * num_units + schedule
  if needed > free:
    most = int((free - schedule) // (AIS_BYTES_PER_CHAIN_UNIT * num_units))
    raise ValueError(
        f'AIS with ais_chains={num_chains} over {num_units} units needs '
        f'{needed / 2**30:.3g} GiB, more than the {free / 2**30:.1f} GiB free '
        f'on {where}; use at most ais_chains={max(most, 0)}.')


def ais_log_normalizer(machine, num_chains=PAPER_AIS_CHAINS,
                       num_temperatures=PAPER_AIS_TEMPERATURES, seed=None,
                       name='ais_log_normalizer'):
  """Estimates log Z of a Boltzmann machine and its standard error by AIS.

  Args:
    machine: a `dvae_tf.distributions.BoltzmannMachine` (an `RBM` among
      them; batch dimensions allowed).
    num_chains: independent annealing runs.
    num_temperatures: number of inverse temperatures, linearly spaced in
      [0, 1].
    seed: stateless seed.
    name: name scope.

  Returns:
    (log_z, stderr): tensors of the machine's batch shape, in nats.

  Raises:
    TypeError: if `machine` is not a Boltzmann machine.
    ValueError: for fewer than 2 chains or 2 temperatures.
  """
  if not isinstance(machine, boltzmann_machine.BoltzmannMachine):
    raise TypeError(f'ais_log_normalizer: expected a BoltzmannMachine (or '
                    f'RBM), got {type(machine).__name__}.')
  if int(num_chains) < 2 or int(num_temperatures) < 2:
    raise ValueError('ais_log_normalizer: need num_chains >= 2 (for a '
                     'standard error) and num_temperatures >= 2; got '
                     f'{num_chains} and {num_temperatures}.')
  with tf.name_scope(name):
    dtype = machine.dtype
    seed = samplers.sanitize_seed(seed, salt='ais_log_normalizer')
    temperatures = tf.cast(tf.linspace(0., 1., num_temperatures), dtype)
    num_classes = machine.plan.num_classes
    shape = tf.concat([[num_chains], machine.batch_shape_tensor(),
                       [machine.num_enumerated_units]], 0)
    init_seed, loop_seed = samplers.split_seed(seed, n=2)
    z = tf.cast(philox.uniform(shape, init_seed, dtype) < 0.5,
                dtype)
    log_w = tf.zeros(shape[:-1], dtype)

    def body(k, z, log_w):
      t_prev, t = temperatures[k - 1], temperatures[k]
      log_w += (machine.marginal_log_prob(z, t) -
                machine.marginal_log_prob(z, t_prev))
      seeds = samplers.split_seed(
          tf.random.experimental.stateless_fold_in(loop_seed, k),
          n=num_classes)
      return k + 1, machine.tempered_sweep(z, t, seeds), log_w

    _, _, log_w = tf.while_loop(lambda k, *_: k < num_temperatures, body,
                                (tf.constant(1), z, log_w))
    n = tf.cast(num_chains, dtype)
    log_z0 = machine.num_units * np.log(2.)
    log_mean_w = tf.reduce_logsumexp(log_w, axis=0) - tf.math.log(n)
    # Weights relative to their mean: mean 1, so stderr(log Z) = std / sqrt(n).
    ratio = tf.exp(log_w - log_mean_w)
    std = tf.math.reduce_std(ratio, axis=0) * tf.sqrt(n / (n - 1.))
    return log_z0 + log_mean_w, std / tf.sqrt(n)
