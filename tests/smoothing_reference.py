"""Independent float64 NumPy references for the smoothing distributions.

Densities are written straight from their definitions (Sec. 2, Sec. 3, DVAE#,
Appendix B notes), without the stable rewrites of the library, and integrals
are done by composite Gauss-Legendre quadrature after a change of variables
that resolves the endpoint behaviour (concentration or singularity at 0).
"""

import numpy as np
from scipy import special


def component_density(family, x, beta):
  """r(x|z=0) for the mirror-symmetric families, naive float64."""
  x = np.asarray(x, np.float64)
  if family == 'exponential':
    inside = (x >= 0) & (x <= 1)
    return np.where(inside, beta * np.exp(-beta * x) / (1 - np.exp(-beta)), 0.)
  if family == 'power':
    inside = (x > 0) & (x <= 1)
    safe = np.where(inside, x, 0.5)
    with np.errstate(over='ignore'):  # +inf is the true value below ~1e-310
      return np.where(inside, safe ** (1. / beta - 1.) / beta, 0.)
  if family == 'logistic':
    t = np.exp(-beta * np.abs(x))  # the logistic density is even
    return beta * t / (1 + t) ** 2
  raise ValueError(family)


def mixture_density(family, zeta, logits, beta):
  """q(zeta) = (1-q) r(zeta|0) + q r(zeta|1) (Eq. 2); slab density for spike."""
  q = special.expit(logits)
  if family == 'spike_exp':
    zeta = np.asarray(zeta, np.float64)
    inside = (zeta > 0) & (zeta <= 1)
    return np.where(inside, q * beta * np.exp(beta * (zeta - 1)) /
                    (1 - np.exp(-beta)), 0.)
  return ((1 - q) * component_density(family, zeta, beta) +
          q * component_density(family, 1. - np.asarray(zeta), beta))


def posterior_prob(family, zeta, logits, beta):
  """q(z=1 | zeta) by Bayes' rule from the two component densities."""
  q = special.expit(logits)
  if family == 'spike_exp':
    return (np.asarray(zeta) > 0) * np.ones_like(q * beta)
  r0 = component_density(family, zeta, beta)
  r1 = component_density(family, 1. - np.asarray(zeta), beta)
  return q * r1 / (q * r1 + (1 - q) * r0)


def gauss_legendre(fn, a, b, num_panels, order=8):
  """Composite Gauss-Legendre quadrature of fn over [a, b].

  `fn` maps an array of nodes [K] to values [K, ...]; returns the integral [...].
  """
  nodes, weights = np.polynomial.legendre.leggauss(order)
  edges = np.linspace(a, b, num_panels + 1)
  half = 0.5 * np.diff(edges)[:, None]
  mid = 0.5 * (edges[1:] + edges[:-1])[:, None]
  x = (mid + half * nodes[None, :]).ravel()
  w = (half * weights[None, :]).ravel()
  values = fn(x)
  return np.tensordot(w, values, axes=(0, 0))


def integral_from_lower_end(density_fn, upper, family):
  """int_{lower}^{upper} density(zeta) d zeta for upper <= 1/2.

  For the [0, 1] families the substitution zeta = exp(-y) turns the endpoint
  spike of width 1/beta (or the power family's zeta^(1/beta - 1) singularity)
  into a smooth, slowly decaying integrand in y. For the logistic family
  (support the real line) zeta = upper + 1 - exp(y) maps y in [0, inf) onto
  (-inf, upper].

  Args:
    density_fn: zeta array [K] -> densities [K, ...], float64.
    upper: upper limit, a float <= 0.5.
    family: 'exponential', 'power' or 'logistic'.
  """
  if family == 'logistic':
    return gauss_legendre(lambda y: _times(density_fn(upper + 1. - np.exp(y)),
                                           np.exp(y)), 0., 5., 20000)
  # TensorFlow flushes subnormals to zero, so stop at y = 708, where x is
  # still a normal float64; the power family at beta = 100 leaves out
  # (1-q) exp(-7.08) < 1e-3 of its mass below that.
  return gauss_legendre(lambda y: _times(density_fn(np.exp(-y)), np.exp(-y)),
                        -np.log(upper), 708., 15000)


def _times(values, jacobian):
  return values * jacobian.reshape((-1,) + (1,) * (values.ndim - 1))
