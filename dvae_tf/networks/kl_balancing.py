"""KL balancing across latent groups during KL warm-up (Sec. 6.2, Appendix H).

"With many layers of latent variables, the VAE objective often turns off many
of the latent variables ... The latent units are usually removed
differentially across different groups. Appendix H presents a technique that
enables efficient use of latent variables across all groups" (Sec. 6.2).
Appendix H is not available; this is OUR RECONSTRUCTION, after the KL
balancing of NVAE (Vahdat & Kautz 2020), by the same first author.

For J groups with per-example KLs KL_j(x) over a batch B, the coefficients are

    k_j = mean_{x in B} |KL_j(x)| + 0.01,      gamma_j = k_j / mean_l k_l,

held constant in the gradient (stop-gradient), and the KL penalty is

    kl_weight * sum_j gamma_j KL_j(x)   while kl_weight < 1 (warm-up),
    kl_weight * sum_j KL_j(x)           afterwards.

The gamma_j average to one, so the total weight of the KL stays that of the
warm-up schedule; a group with a small KL gets a small coefficient, is
penalized less and stays in use, while the groups that carry most of the
information are pushed back. Once warm-up ends the objective is the ELBO
again. NVAE also divides k_j by a size factor per scale; here every balanced
group has the same size (the local groups of DVAE++ share one scale), so that
factor is one.
"""

import tensorflow as tf

EPSILON = 0.01


def balancing_coefficients(group_kls):
  """gamma_j = k_j / mean_l k_l with k_j = mean_batch |KL_j| + 0.01.

  Args:
    group_kls: [N, J] per-example KL of each group.

  Returns:
    [J] coefficients averaging to one, gradient stopped.
  """
  k = tf.reduce_mean(tf.abs(group_kls), axis=0) + EPSILON
  return tf.stop_gradient(k / tf.reduce_mean(k))


def balanced_kl(group_kls, kl_weight):
  """sum_j gamma_j KL_j while kl_weight < 1, else sum_j KL_j; [N].

  Args:
    group_kls: [N, J] per-example KL of each group.
    kl_weight: the warm-up coefficient (scalar); the caller multiplies the
      result by it.

  Returns:
    [N] balanced KL.
  """
  group_kls = tf.convert_to_tensor(group_kls)
  kl_weight = tf.cast(kl_weight, group_kls.dtype)
  gamma = tf.where(kl_weight < 1., balancing_coefficients(group_kls),
                   tf.ones_like(group_kls[0]))
  return tf.reduce_sum(group_kls * gamma, axis=-1)
