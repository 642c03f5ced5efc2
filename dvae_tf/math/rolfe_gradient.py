"""Rolfe's (2016) gradient of the Boltzmann cross-entropy under spike-and-exp.

The KL of Sec. 5 (`objectives.boltzmann_kl`) contains, for an edge (a, b)
with unit a in an earlier group than unit b (for the RBM: a left unit of an
earlier group than a right unit), the term W_ab nu_a mu_b, with
nu_a = q(z_a = 1 | x, zeta_a). Under a smoothing whose q(z | x, zeta) is 0 or
1 (`Smoothing.deterministic_posterior`, Rolfe's spike-and-exponential),
nu_a = 1{zeta_a > 0} = 1{rho_a > 1 - q_a} for the inverse-CDF sample
zeta_a = F^{-1}(rho_a; q_a), a step in q_a with zero derivative almost
everywhere. Its expectation still depends on q_a, so the reparameterized
gradient of the estimate misses a term; this module supplies it.

Write the estimate of `objectives.boltzmann_cross_entropy` as
    C(zeta) = C_0(zeta) + sum_a nu_a h_a(zeta),
    h_a = dC/dnu_a = -sum_b W_ab [g(a) < g(b)] mu_b(zeta_<g(b)),
where C_0 and h_a are smooth in zeta (networks of zeta), and zeta_a is
continuous in q_a (it reaches 0 at rho_a = 1 - q_a from both sides). By
Leibniz's rule over rho_a, with q_a's total derivative dq_a/dphi (through its
network and the earlier groups' reparameterized zetas),
    d/dphi E_rho[nu_a h_a] = E_rho[nu_a dh_a/dphi]
                             + E_{rho_-a}[h_a(zeta_a = 0) dq_a/dphi].
Automatic differentiation of C gives the first (path) term, the dependence of
mu_b on zeta_a included; the second is the mass entering at the boundary
rho_a = 1 - q_a, where zeta_a = 0. Given the other units, nu_a = 0 with
probability 1 - q_a and then zeta_a is exactly 0, so
    E_rho[(1 - nu_a) / (1 - q_a) h_a(zeta) dq_a/dphi]
is an unbiased estimate of it from the same sample. This is Rolfe's
derivation as the authors' released code applies it to the spike-and-exp
baseline with two or more groups (QuadrantAI/dvae, `rbm.py`,
`RBM.kl_dist_from_original`, which cites Eqs. 11-12 of arXiv:1609.02200v2):
its training surrogate weights dq_a of a left unit by
-(W z_R)_a (1 - z_a) / (1 - q_a) and dq_b of a right unit by -(z_L^T W)_b,
with z = 1{zeta > 0} in every group but the last, which is marginalized
(z = mu). For two groups that is the gradient computed here; with more, it
uses sampled z where this uses mu (both unbiased). There q_a is capped at
0.999 and the surrogate replaces the KL's value; the form below needs
neither.

With dq_a = q_a (1 - q_a) dl_a for the logit l_a, the boundary term is
(1 - nu_a) q_a h_a dl_a, which `boundary_surrogate` carries as
    S = sum_a stop_gradient((1 - nu_a) q_a h_a) (l_a - stop_gradient(l_a)),
zero in value and bounded in q_a. Adding S to the KL leaves its value
unchanged and makes its gradient with respect to the encoder unbiased; the
gradients with respect to the RBM's parameters are unaffected (they enter S
only under stop_gradient).
In one group (mean-field) no h_a is nonzero and S vanishes.

Nothing above uses the bipartite graph: on any graph nu_a enters C linearly,
with h_a = -sum_{b ~ a, g(a) < g(b)} W_ab mu_b smooth in zeta, so the same
surrogate serves every Boltzmann prior (`priors.BoltzmannPrior`), with
h_a computed from the machine's `pair_sum`.
"""

import tensorflow as tf

from dvae_tf.math import objectives


def boundary_surrogate(machine, group_sizes, posterior_logits, nu_logits):
  """A zero whose gradient is the boundary term of the module docstring, [N].

  Args:
    machine: the prior, a `dvae_tf.distributions.BoltzmannMachine` (or
      `RBM`) with sum(group_sizes) units.
    group_sizes: units per posterior group, in order.
    posterior_logits: list of [N, units_i] logits l of q(z_i = 1 | x,
      zeta_<i), differentiable in the encoder's parameters.
    nu_logits: list of [N, units_i] logits of q(z_i = 1 | x, zeta_<=i),
      +inf or -inf (`SpikeAndExponential.posterior_logits`).

  Returns:
    [N] zeros with gradient sum_a (1 - nu_a) q_a h_a dl_a.
  """
  logits = tf.concat(posterior_logits, axis=-1)
  nu = tf.math.sigmoid(tf.concat(nu_logits, axis=-1))
  mu = tf.stop_gradient(tf.math.sigmoid(logits))
  earlier, later, _ = objectives.edge_group_masks(machine.graph, group_sizes)
  # h = dC/dnu: C is linear in nu, so h is the gradient of its nu terms.
  probe = tf.zeros_like(nu)
  with tf.GradientTape() as tape:
    tape.watch(probe)
    terms = tf.zeros_like(nu[:, 0])
    if earlier.any():
      terms += machine.pair_sum(probe, mu, earlier)
    if later.any():
      terms += machine.pair_sum(mu, probe, later)
  h = tape.gradient(terms, probe, unconnected_gradients='zero')
  h = -tf.stop_gradient(h)
  weight = tf.stop_gradient((1. - nu) * tf.math.sigmoid(logits) * h)
  return tf.reduce_sum(weight * (logits - tf.stop_gradient(logits)), axis=-1)
