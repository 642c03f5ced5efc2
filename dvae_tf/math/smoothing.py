"""Smoothing transformations as the models use them: a name, a family, a beta.

A `Smoothing` turns the encoder's logits l and an inverse temperature beta
into a distribution over the relaxed variable of each binary unit. The models
sample it (reparameterized), pass zeta = `to_zeta(sample)` onward, and, for
the marginal bound of Eq. 5, evaluate `log_prob` of the sample under the
posterior and under the prior's smoothed mixture.

- The overlapping families (`exponential`, `logistic`, `power`) and Rolfe's
  `spike_exp` are the distributions of `dvae_tf.distributions`; their sample
  is zeta itself.
- `concrete` is `tfp.distributions.RelaxedBernoulli(temperature=1/beta)`
  (Maddison et al. 2016), the Table 1 baseline. Its densities are evaluated
  in logit space: zeta = sigmoid(y) with y ~ Logistic(beta l, beta), which is
  RelaxedBernoulli's own construction. Densities of y and of zeta differ by
  the same Jacobian under posterior and prior, so log-density ratios (all the
  bound needs) are equal, while y stays finite where sigmoid(y) rounds to 0 or
  1 in float32.
"""

import dataclasses
from typing import Callable

import tensorflow as tf
import tensorflow_probability as tfp

from dvae_tf import distributions

tfd = tfp.distributions


def _concrete(logits, beta):
  """y = (l + Logistic(0, 1)) / tau with tau = 1/beta: Logistic(beta l, beta)."""
  beta = tf.cast(beta, logits.dtype)
  return tfd.Logistic(loc=beta * logits, scale=beta)


@dataclasses.dataclass(frozen=True)
class Smoothing:
  """A smoothing family r(zeta|z) for the models.

  Attributes:
    name: the name used by presets and flags.
    distribution: (logits, beta) -> a reparameterized distribution over the
      sampled variable.
    to_zeta: maps that variable to zeta in [0, 1].
    has_posterior_logits: whether the distribution offers `posterior_logits`,
      the logits of q(z = 1 | x, zeta) (needed by the RBM prior's KL).
    deterministic_posterior: whether q(z = 1 | x, zeta) is exactly 0 or 1
      (r(zeta|0) and r(zeta|1) have disjoint supports, as for Rolfe's
      spike-and-exponential): nu then has no reparameterized gradient, and
      the RBM prior adds the missing term (`dvae_tf.math.rolfe_gradient`).
    xla_is_faster: whether a training step with this smoothing runs faster
      compiled by XLA than as a graph on CPUs (`bin/benchmark.py
      --suites=presets`): the default of `TrainConfig.jit_compile`.
  """
  name: str
  distribution: Callable
  to_zeta: Callable = tf.identity
  has_posterior_logits: bool = True
  deterministic_posterior: bool = False
  xla_is_faster: bool = True

  def __call__(self, logits, beta):
    return self.distribution(logits, beta)


def _family(cls):
  return lambda logits, beta: cls(beta=tf.cast(beta, logits.dtype),
                                  logits=logits)


# Registry: name -> `Smoothing`; `register_smoothing` adds one.
SMOOTHINGS = {}


def register_smoothing(smoothing):
  """Makes `smoothing` (a `Smoothing`) available by its name; returns it."""
  SMOOTHINGS[smoothing.name] = smoothing
  return smoothing


for _smoothing in (
    Smoothing('exponential', _family(distributions.OverlappingExponential)),
    Smoothing('logistic', _family(distributions.OverlappingLogistic)),
    Smoothing('power', _family(distributions.OverlappingPower)),
    Smoothing('spike_exp', _family(distributions.SpikeAndExponential),
              deterministic_posterior=True),
    # TFP's Logistic samples and scores through log1p, which XLA does not
    # vectorize on CPUs: its XLA step ran at 0.70 of its graph step.
    Smoothing('concrete', _concrete, to_zeta=tf.math.sigmoid,
              has_posterior_logits=False, xla_is_faster=False)):
  register_smoothing(_smoothing)


def get_smoothing(name):
  """The `Smoothing` called `name`; ValueError listing the valid names."""
  if name not in SMOOTHINGS:
    raise ValueError(f'Unknown smoothing {name!r}; choose one of '
                     f'{sorted(SMOOTHINGS)}.')
  return SMOOTHINGS[name]


def with_posterior_logits():
  """The names of the smoothings that offer q(z | zeta), sorted."""
  return sorted(n for n, s in SMOOTHINGS.items() if s.has_posterior_logits)
