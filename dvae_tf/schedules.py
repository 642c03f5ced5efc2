"""Training schedules: learning rate, beta annealing and KL annealing.

All are functions of the step, so a resumed run continues them exactly.
"""

import keras
import tensorflow as tf

# Piecewise-constant learning-rate multipliers of the released code
# (Appendix F notes): (end of phase as a fraction of training, multiplier).
PIECEWISE_PHASES = ((0.02, 0.1), (0.6, 1.), (0.75, 1. / 3.), (0.95, 0.1),
                    (1.0, 1. / 33.))


@keras.saving.register_keras_serializable(package='dvae_tf')
class PiecewiseLearningRate(keras.optimizers.schedules.LearningRateSchedule):
  """lr/10 for the first 2% of steps, lr to 60%, lr/3 to 75%, lr/10 to 95%, lr/33."""

  def __init__(self, learning_rate, num_steps):
    self.learning_rate = float(learning_rate)
    self.num_steps = int(num_steps)

  def __call__(self, step):
    fraction = tf.cast(step, tf.float32) / float(max(self.num_steps, 1))
    multiplier = tf.constant(PIECEWISE_PHASES[-1][1])
    for end, value in reversed(PIECEWISE_PHASES[:-1]):
      multiplier = tf.where(fraction < end, value, multiplier)
    return self.learning_rate * multiplier

  def get_config(self):
    return {'learning_rate': self.learning_rate, 'num_steps': self.num_steps}


@keras.saving.register_keras_serializable(package='dvae_tf')
class ConstantLearningRate(keras.optimizers.schedules.LearningRateSchedule):
  """lr at every step: the Table 1 protocol (Sec. 7.1, no decay)."""

  def __init__(self, learning_rate, num_steps):
    del num_steps
    self.learning_rate = float(learning_rate)

  def __call__(self, step):
    del step
    return tf.constant(self.learning_rate)

  def get_config(self):
    return {'learning_rate': self.learning_rate}


# Registry: name -> schedule class (learning_rate, num_steps).
LEARNING_RATE_SCHEDULES = {'piecewise': PiecewiseLearningRate,
                           'constant': ConstantLearningRate}


def linear(step, start, end, num_steps):
  """start + (end - start) min(step / num_steps, 1): beta annealing."""
  fraction = tf.minimum(tf.cast(step, tf.float32) / float(max(num_steps, 1)),
                        1.)
  return start + (end - start) * fraction


def kl_weight(step, warmup_steps):
  """The KL coefficient: rises linearly from 0 to 1 over `warmup_steps`."""
  if warmup_steps <= 0:
    return tf.constant(1.)
  return tf.minimum(tf.cast(step, tf.float32) / float(warmup_steps), 1.)
