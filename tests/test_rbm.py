"""RBM, AIS and persistent chains against brute-force enumeration."""

import itertools

import numpy as np
import pytest
from scipy import stats
import tensorflow as tf

from dvae_tf.math import log_z_gradient
from dvae_tf.distributions import RBM, PersistentChains, ais_log_normalizer
from dvae_tf.distributions import rbm as rbm_lib


def random_rbm_params(rng, n1, n2, scale=1.0, dtype=np.float64):
  return (rng.normal(0, scale, n1).astype(dtype),
          rng.normal(0, scale, n2).astype(dtype),
          rng.normal(0, scale, (n1, n2)).astype(dtype))


def all_states(n):
  return np.array(list(itertools.product([0., 1.], repeat=n)))


def brute_force(a1, a2, w):
  """log Z and the probabilities of all 2^(n1+n2) states, by enumeration."""
  n1, n2 = len(a1), len(a2)
  z = all_states(n1 + n2)
  z1, z2 = z[:, :n1], z[:, n1:]
  log_unnorm = z1 @ a1 + z2 @ a2 + np.einsum('si,ij,sj->s', z1, w, z2)
  m = log_unnorm.max()
  log_z = m + np.log(np.exp(log_unnorm - m).sum())
  return log_z, z, np.exp(log_unnorm - log_z)


@pytest.mark.parametrize('n1,n2', [(1, 1), (3, 5), (7, 4), (8, 8), (2, 14)])
def test_log_normalizer_matches_enumeration(rng, n1, n2):
  a1, a2, w = random_rbm_params(rng, n1, n2, scale=1.5)
  expected, z, probs = brute_force(a1, a2, w)
  rbm = RBM(a1, a2, w)
  # A small chunk exercises the loop over chunks and the partial last chunk.
  for chunk_size in (3, 2**14):
    np.testing.assert_allclose(rbm.log_normalizer(chunk_size=chunk_size),
                               expected, rtol=0, atol=1e-4)
  np.testing.assert_allclose(np.exp(rbm.log_prob(z)), probs, atol=1e-10)


def test_log_normalizer_float32_and_batch(rng):
  params = [random_rbm_params(rng, 4, 6) for _ in range(3)]
  expected = [brute_force(*p)[0] for p in params]
  a1, a2, w = (np.stack([p[i] for p in params]).astype(np.float32)
               for i in range(3))
  rbm = RBM(a1, a2, w)
  assert rbm.batch_shape == [3]
  assert rbm.event_shape == [10]
  np.testing.assert_allclose(rbm.log_normalizer(), expected, atol=1e-4)


def test_log_normalizer_too_large_points_to_ais():
  rbm = RBM(tf.zeros([25]), tf.zeros([30]), tf.zeros([25, 30]))
  with pytest.raises(ValueError, match='ais_log_normalizer'):
    rbm.log_normalizer()


def test_mismatched_shapes_raise():
  with pytest.raises(ValueError, match=r'expected \[..., 3, 4\]'):
    RBM(tf.zeros([3]), tf.zeros([4]), tf.zeros([4, 3]))


def test_energy_and_conditionals(rng):
  a1, a2, w = random_rbm_params(rng, 3, 4)
  rbm = RBM(a1, a2, w)
  z = rng.integers(0, 2, (5, 7)).astype(np.float64)
  z1, z2 = z[:, :3], z[:, 3:]
  np.testing.assert_allclose(
      rbm.energy(z), -(z1 @ a1 + z2 @ a2 + np.sum((z1 @ w) * z2, -1)))
  # Conditionals from ratios of unnormalized probabilities.
  for i in range(3):
    on, off = z.copy(), z.copy()
    on[:, i], off[:, i] = 1., 0.
    np.testing.assert_allclose(
        rbm.left_conditional_logits(z2)[:, i],
        rbm.unnormalized_log_prob(on) - rbm.unnormalized_log_prob(off))
  for j in range(4):
    on, off = z.copy(), z.copy()
    on[:, 3 + j], off[:, 3 + j] = 1., 0.
    np.testing.assert_allclose(
        rbm.right_conditional_logits(z1)[:, j],
        rbm.unnormalized_log_prob(on) - rbm.unnormalized_log_prob(off))


def test_gibbs_marginals_match_exact(rng):
  a1, a2, w = random_rbm_params(rng, 3, 4, scale=1.0)
  _, z, probs = brute_force(a1, a2, w)
  rbm = RBM(a1.astype(np.float32), a2.astype(np.float32),
            w.astype(np.float32), num_gibbs_sweeps=30)
  n = 20000
  samples = rbm.sample(n, seed=(4, 2)).numpy()
  exact_marginals = probs @ z
  se = np.sqrt(exact_marginals * (1 - exact_marginals) / n)
  assert np.all(np.abs(samples.mean(0) - exact_marginals) < 5 * se + 1e-3)
  # The whole joint: the n chains are independent, so their final states are
  # a multinomial sample; a chi-square test of the state counts against the
  # exact probabilities (states expected fewer than 5 times pooled). The
  # total variation of the exact multinomial itself is about 0.025 here, so a
  # fixed bound on it would pass or fail by chance.
  index = samples @ (2.**np.arange(7)[::-1])
  counts = np.bincount(index.astype(int), minlength=128)
  expected = n * probs
  frequent = expected >= 5
  observed = np.append(counts[frequent], counts[~frequent].sum())
  expected = np.append(expected[frequent], expected[~frequent].sum())
  assert stats.chisquare(observed, expected).pvalue > 1e-3


@pytest.mark.parametrize('batch', [(), (2,)])
def test_gibbs_sweeps_match_numpy(rng, batch):
  """The compiled sweep loop against the conditionals written out in NumPy.

  Given the same uniforms, sweep i sets
  z2 = [u < sigmoid(a2 + W^T z1)] and then z1 = [u < sigmoid(a1 + W z2)];
  with batch dimensions on the RBM, W [..., n1, n2] takes the batched
  product.
  """
  n1, n2, chains = 3, 5, 64
  a1 = rng.normal(size=batch + (n1,)).astype(np.float32)
  a2 = rng.normal(size=batch + (n2,)).astype(np.float32)
  w = rng.normal(size=batch + (n1, n2)).astype(np.float32)
  z = (rng.uniform(size=(chains,) + batch + (n1 + n2,)) < 0.5).astype(
      np.float32)
  u = rng.uniform(size=(4, chains) + batch + (n1 + n2,)).astype(np.float32)
  sigmoid = lambda x: 1. / (1. + np.exp(-x))
  z1, z2 = z[..., :n1], z[..., n1:]
  for count in range(4):
    got = rbm_lib._gibbs_sweeps(tf.constant(u), tf.constant(count),
                                tf.constant(z), tf.constant(a1),
                                tf.constant(a2), tf.constant(w), num_left=n1)
    np.testing.assert_array_equal(got, np.concatenate([z1, z2], -1))
    z2 = (u[count, ..., n1:] < sigmoid(
        a2 + np.einsum('...i,...ij->...j', z1, w))).astype(np.float32)
    z1 = (u[count, ..., :n1] < sigmoid(
        a1 + np.einsum('...ij,...j->...i', w, z2))).astype(np.float32)


def test_gibbs_chain_does_not_depend_on_static_shapes(rng):
  """Static and unknown shapes (an exported signature) give the same chain,
  across a block boundary of the uniform draws too."""
  a1, a2, w = random_rbm_params(rng, 5, 6, dtype=np.float32)
  rbm = RBM(a1, a2, w)
  sweeps = rbm_lib.GIBBS_DRAW_PER_CHAIN // 11 + 3  # two blocks
  z = tf.constant((rng.uniform(size=(4, 11)) < 0.5).astype(np.float32))
  static = rbm.block_gibbs(z, sweeps, seed=(1, 2))
  dynamic = tf.function(
      lambda z, n: rbm.block_gibbs(z, n, seed=(1, 2)),
      input_signature=[tf.TensorSpec([None, 11]), tf.TensorSpec([], tf.int32)])
  np.testing.assert_array_equal(static, dynamic(z, tf.constant(sweeps)))
  np.testing.assert_array_equal(rbm.block_gibbs(z, 3, seed=(1, 2)),
                                dynamic(z, tf.constant(3)))


def test_sampling_seeds_and_xla(rng):
  a1, a2, w = random_rbm_params(rng, 5, 6, dtype=np.float32)
  rbm = RBM(a1, a2, w)
  s1 = rbm.sample(4, seed=(1, 2), num_gibbs_sweeps=3)
  s2 = rbm.sample(4, seed=(1, 2), num_gibbs_sweeps=3)
  s3 = rbm.sample(4, seed=(1, 3), num_gibbs_sweeps=3)
  np.testing.assert_array_equal(s1, s2)
  assert not np.array_equal(s1, s3)
  assert s1.shape == (4, 11)
  assert set(np.unique(s1)) <= {0., 1.}
  gibbs = tf.function(lambda z, seed: rbm.block_gibbs(z, 5, seed),
                      jit_compile=True)
  z0 = tf.zeros([8, 11])
  # XLA's stateless generators differ from the eager kernels, so compare XLA
  # with itself: deterministic per seed, different across seeds.
  x1 = gibbs(z0, tf.constant([3, 4]))
  np.testing.assert_array_equal(x1, gibbs(z0, tf.constant([3, 4])))
  assert not np.array_equal(x1, gibbs(z0, tf.constant([3, 5])))
  assert set(np.unique(x1)) <= {0., 1.}
  np.testing.assert_array_equal(rbm.block_gibbs(z0, 0, (1, 1)), z0)


def test_log_normalizer_under_tf_function_and_gradient(rng):
  a1, a2, w = random_rbm_params(rng, 3, 5, dtype=np.float64)
  variables = [tf.Variable(v) for v in (a1, a2, w)]
  rbm = RBM(*variables)

  @tf.function
  def log_z_and_grad():
    with tf.GradientTape() as tape:
      log_z = rbm.log_normalizer()
    return log_z, tape.gradient(log_z, variables)

  log_z, grads = log_z_and_grad()
  _, z, probs = brute_force(a1, a2, w)
  np.testing.assert_allclose(log_z, brute_force(a1, a2, w)[0], atol=1e-8)
  # grad log Z = E_p[z1], E_p[z2], E_p[z1 z2^T].
  np.testing.assert_allclose(grads[0], probs @ z[:, :3], atol=1e-8)
  np.testing.assert_allclose(grads[1], probs @ z[:, 3:], atol=1e-8)
  np.testing.assert_allclose(
      grads[2], np.einsum('s,si,sj->ij', probs, z[:, :3], z[:, 3:]), atol=1e-8)


def test_surrogate_gradient_matches_exact_gradient(rng):
  a1, a2, w = random_rbm_params(rng, 4, 4, scale=0.8, dtype=np.float64)
  variables = [tf.Variable(v) for v in (a1, a2, w)]
  rbm = RBM(*variables)
  _, z, probs = brute_force(a1, a2, w)
  # Exact samples (by inverse CDF over the enumerated states).
  n = 40000
  idx = rng.choice(len(probs), size=n, p=probs)
  samples = z[idx]
  with tf.GradientTape() as tape:
    surrogate = log_z_gradient.pcd_surrogate(rbm, samples)
  grads = tape.gradient(surrogate, variables)
  with tf.GradientTape() as tape:
    log_z = rbm.log_normalizer()
  exact = tape.gradient(log_z, variables)
  for g, e, stat in zip(grads, exact, (samples[:, :4], samples[:, 4:],
                                       samples[:, :4, None] * samples[:, None, 4:])):
    se = stat.std(0) / np.sqrt(n)
    assert np.all(np.abs(g.numpy() - e.numpy()) <= 4 * se + 1e-9)
  # The surrogate is not differentiable through its samples.
  samples_var = tf.Variable(samples)
  with tf.GradientTape() as tape:
    value = log_z_gradient.pcd_surrogate(rbm, samples_var)
  assert tape.gradient(value, samples_var) is None


def test_ais_matches_exact_log_normalizer():
  rng = np.random.default_rng(7)
  a1, a2, w = random_rbm_params(rng, 20, 30, scale=0.5, dtype=np.float32)
  rbm = RBM(a1, a2, w)
  exact = rbm.log_normalizer().numpy()
  log_z, stderr = tf.function(lambda: ais_log_normalizer(
      rbm, num_chains=512, num_temperatures=1000, seed=(5, 6)))()
  assert stderr > 0
  assert abs(log_z - exact) < 3 * stderr + 1e-3
  assert abs(log_z - exact) < 0.1
  # A short anneal is noisier: its standard error must say so.
  _, short_stderr = ais_log_normalizer(rbm, num_chains=512, num_temperatures=10,
                                       seed=(5, 6))
  assert short_stderr > stderr


def test_ais_batch_and_errors(rng):
  params = [random_rbm_params(rng, 4, 5, scale=0.5) for _ in range(2)]
  a1, a2, w = (np.stack([p[i] for p in params]) for i in range(3))
  rbm = RBM(a1, a2, w)
  log_z, stderr = ais_log_normalizer(rbm, num_chains=256, num_temperatures=200,
                                     seed=(1, 1))
  assert log_z.shape == (2,) and stderr.shape == (2,)
  np.testing.assert_allclose(log_z, rbm.log_normalizer(), atol=0.05)
  with pytest.raises(ValueError, match='num_chains'):
    ais_log_normalizer(rbm, num_chains=1, num_temperatures=10)


def test_persistent_chains_advance_and_checkpoint(tmp_path, rng):
  a1, a2, w = random_rbm_params(rng, 3, 4, dtype=np.float32)
  rbm = RBM(a1, a2, w)
  chains = PersistentChains(num_chains=2000, num_units=7, seed=3)
  before = chains.state.numpy().copy()
  z = chains.advance(rbm, num_gibbs_sweeps=20, seed=(0, 1))
  np.testing.assert_array_equal(chains.state.numpy(), z)
  assert not np.array_equal(before, z)
  _, states, probs = brute_force(a1.astype(np.float64), a2.astype(np.float64),
                                 w.astype(np.float64))
  exact = probs @ states
  assert np.all(np.abs(z.numpy().mean(0) - exact) < 0.05)

  ckpt = tf.train.Checkpoint(chains=chains)
  path = ckpt.save(str(tmp_path / 'ckpt'))
  saved = chains.state.numpy().copy()
  chains.advance(rbm, num_gibbs_sweeps=1, seed=(0, 2))
  assert not np.array_equal(chains.state.numpy(), saved)
  restored = PersistentChains(num_chains=2000, num_units=7, seed=99)
  tf.train.Checkpoint(chains=restored).restore(path).assert_consumed()
  np.testing.assert_array_equal(restored.state.numpy(), saved)
  assert restored.get_config()['num_units'] == 7

  with pytest.raises(ValueError, match='hold 8 units but the machine has 7'):
    PersistentChains(num_chains=10, num_units=8).advance(rbm, 1, (0, 0))
  with pytest.raises(ValueError, match='num_chains'):
    PersistentChains(num_chains=0, num_units=8)


def test_validate_args_checks_the_couplings_at_run_time():
  """A variable W of unknown static shape is checked against a1, a2."""
  w = tf.Variable(np.zeros([2, 3], np.float32), shape=tf.TensorShape(None))
  rbm = RBM(np.zeros(2, np.float32), np.zeros(3, np.float32), w,
            validate_args=True)
  z = tf.zeros([4, 5])
  assert rbm.energy(z).shape == (4,)
  w.assign(np.zeros([3, 3], np.float32))
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match=r'must have shape \[\.\.\., 2, 3\]'):
    rbm.energy(z)
