"""Noise of the training gradient from the latents, at fixed parameters.

For a minibatch x of B images and parameters theta, draw s of the latents'
noise gives one gradient of the training loss,

  g_s = -grad_theta (1/B) sum_b bound_b(x; theta, noise_s),

the reparameterized gradient of the joint ELBO (Eq. 4), the marginal ELBO
(Eq. 5) or the Concrete relaxation, whichever the model trains. Over S draws,
for a group of parameters (encoder, prior or decoder):

  mean        g_bar = (1/S) sum_s g_s
  variance    V = (1/(S - 1)) sum_s ||g_s - g_bar||^2   (trace of Cov[g])
  SNR         ||g_bar||^2 / V

V is the noise an optimizer step sees from the latents alone (the minibatch
is fixed). Two estimators at the same parameters are compared by their V and
by the cosine between their mean gradients: the relaxations differ in what
they differentiate (their bias) as well as in their noise.
"""

import numpy as np
import tensorflow as tf

# Parameter groups, by the first matching part of a variable's path.
GROUPS = ('encoder', 'prior', 'decoder')


def group_of(variable):
  """The group of `variable`: the first of GROUPS its path names."""
  path = getattr(variable, 'path', variable.name)
  for group in GROUPS:
    if group in path:
      return group
  raise ValueError(f'Variable {path!r} belongs to none of {GROUPS}.')


def gradient_draws(model, x, beta, seeds, training=True):
  """([S, D] gradients, [S] losses), one row for each stateless seed.

  D counts every trainable variable of `model`, flattened in the order of
  `model.trainable_variables`. The loss is -(1/B) sum_b bound_b at KL
  weight 1, as in a training step of the Table 1 protocol.
  """
  variables = model.trainable_variables
  x = tf.convert_to_tensor(x, tf.float32)
  beta = tf.constant(beta, tf.float32)

  @tf.function
  def one(seed):
    with tf.GradientTape() as tape:
      loss = -tf.reduce_mean(
          model.elbo(x, beta, seed, training=training)['bound'])
    grads = tape.gradient(loss, variables)
    return tf.concat([tf.reshape(g, [-1]) for g in grads], axis=0), loss

  draws = [one(tf.constant(s, tf.int32)) for s in seeds]
  return (np.stack([g.numpy() for g, _ in draws]),
          np.array([loss.numpy() for _, loss in draws]))


def group_slices(model):
  """{group: boolean mask over the D flattened gradient entries}."""
  names = np.concatenate([
      np.full(int(np.prod(v.shape)), group_of(v), dtype=object)
      for v in model.trainable_variables])
  return {g: names == g for g in GROUPS if np.any(names == g)}


def statistics(draws):
  """{mean, variance, mean_norm_sq, snr} of [S, D] gradient draws (S > 1)."""
  draws = np.asarray(draws, np.float64)
  if draws.ndim != 2 or draws.shape[0] < 2:
    raise ValueError(f'Need [S, D] draws with S >= 2; got shape '
                     f'{draws.shape}.')
  mean = draws.mean(axis=0)
  variance = float(np.sum((draws - mean) ** 2) / (draws.shape[0] - 1))
  norm_sq = float(np.sum(mean ** 2))
  return {'mean': mean, 'variance': variance, 'mean_norm_sq': norm_sq,
          'snr': norm_sq / variance if variance > 0 else float('inf')}


def cosine(a, b):
  """Cosine of the angle between vectors a and b."""
  a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
  return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
