"""Memory admission of the training step (`dvae_tf.training.memory`): the
estimate against a measured peak, and what a step too large does.

The measurements and the binaries run in child processes, each forked from
one that imported TensorFlow and the library (`tests.forked_binaries`); a
child measures the growth of its own resident size from where it starts.
"""

import dataclasses
import json
import os
import types

import pytest

from dvae_tf import training
from dvae_tf.training import memory
from tests import test_training
from tests.test_training import REPO

# test_training's tiny RBM-prior run, two steps, no refreshes.
MODEL = test_training.MODEL
TRAIN = dataclasses.replace(test_training.TRAIN, num_steps=2, log_z_every=0)

# What the `server` fixture's process imports before it forks a child
# (tests/conftest.py): TensorFlow and the library, nothing of the binaries.
FORKED_IMPORTS = ('tensorflow', 'tensorflow_probability', 'dvae_tf.training')


# Code for a child process: `resident()`, its resident size now, and
# `watch_peak(before)`, a thread that keeps the largest resident size seen
# (read every millisecond) in `peak[0]`.
PEAK_WATCH = """
import os, threading, time
page = os.sysconf('SC_PAGE_SIZE')
def resident():
  with open('/proc/self/statm') as f:
    return int(f.read().split()[1]) * page
peak = [0]
def watch_peak(before):
  peak[0] = before
  def watch():
    while True:
      peak[0] = max(peak[0], resident())
      time.sleep(0.001)
  threading.Thread(target=watch, daemon=True).start()
"""

# Trains at each k of argv[1:] in turn and prints {k: [estimate, peak]}: the
# estimate of the step `check_step_fits` judged and the largest resident
# size seen while that run trained (read from /proc every millisecond by a
# thread). A run's tensors are freed before the next, so the growth of the
# peak from the smallest k is the larger step's. Not the process's maximum
# resident size: where TensorFlow's start-up peaks higher than a run (a
# CUDA build's driver probe on a machine without a GPU), it hides the runs.
PEAKS = f"""
import dataclasses, json, os, sys, tempfile, threading, time
sys.path.insert(0, {REPO!r})
from dvae_tf import training
from dvae_tf.training import memory
from tests.test_memory import MODEL, TRAIN
{PEAK_WATCH}
watch_peak(resident())
estimates = []
graph_bytes = memory.graph_bytes
memory.graph_bytes = lambda g: estimates.append(graph_bytes(g)) or estimates[-1]
out = {{}}
for k in map(int, sys.argv[1:]):
  with tempfile.TemporaryDirectory() as run_dir:
    peak[0] = resident()
    training.train(MODEL, dataclasses.replace(TRAIN, batch_size=100,
                                              num_iw_train=k),
                   run_dir, verbose=False)
    out[k] = [estimates[-1], peak[0]]
print(json.dumps(out))
"""


def test_the_estimate_lies_above_the_measured_peak(server):
  """10,000 rows a step: the estimate bounds the growth of the peak from
  above, and within `MAX_OVERESTIMATE` of it."""
  out = server.run(['-c', PEAKS, '1', '100'], timeout=600)
  assert out.returncode == 0, out.stderr[-3000:]
  peaks = json.loads(out.stdout.splitlines()[-1])
  estimate = peaks['100'][0]
  growth = peaks['100'][1] - peaks['1'][1]
  assert growth > 50 * 2**20, peaks  # Well above the allocator's noise.
  assert growth <= estimate <= memory.MAX_OVERESTIMATE * growth, peaks


def test_a_step_that_does_not_fit_is_refused_before_anything_is_recorded(
    tmp_path, monkeypatch):
  """One line naming the need and what fits; no config.json, so the same
  directory then trains with a smaller num_iw_train."""
  run_dir = str(tmp_path)
  free = 64 * 2**20
  monkeypatch.setattr(memory, 'available_bytes',
                      lambda strategy: (free, 'this machine'))
  large = dataclasses.replace(TRAIN, num_iw_train=2000)
  with pytest.raises(memory.StepMemoryError,
                     match=r'^One training step with num_iw_train=2000 and '
                           r'batch_size=20 needs up to \S+ GiB, more than the '
                           r'0\.1 GiB free on this machine; use at most '
                           r'num_iw_train=\d+\.$') as error:
    training.train(MODEL, large, run_dir, verbose=False)
  most = int(str(error.value).rsplit('=', 1)[1][:-1])
  assert 1 <= most < 2000
  assert not os.path.exists(os.path.join(run_dir, 'config.json'))
  fits = dataclasses.replace(TRAIN, num_iw_train=most)
  assert training.train(MODEL, fits, run_dir, verbose=False)['step'] == 2


# Flags of bin/train.py --preset=demo too large for this machine's memory.
PAST_MEMORY = ('--num_iw_train=100000000', '--hidden_units=100000000',
               '--units_per_group=100000000')


@pytest.fixture(scope='module')
def past_memory(tmp_path_factory, server):
  """{flag: (run_dir, result)}: bin/train.py with each of PAST_MEMORY, all at
  once. A model flag's run spends `size.HINT_SECONDS` of wall time looking
  for a value that fits, whatever else runs."""
  tmp = tmp_path_factory.mktemp('past_memory')
  run_dirs = [str(tmp / f'run{i}') for i in range(len(PAST_MEMORY))]
  procs = [server.start(['train.py', '--preset=demo', '--dataset=sample',
                         flag, f'--run_dir={run_dir}'])
           for flag, run_dir in zip(PAST_MEMORY, run_dirs)]
  outs = []
  for proc in procs:
    stdout, stderr = proc.communicate(timeout=300)
    outs.append(types.SimpleNamespace(returncode=proc.returncode,
                                      stdout=stdout, stderr=stderr))
  return dict(zip(PAST_MEMORY, zip(run_dirs, outs)))


def test_a_step_past_a_tensor_is_one_line(past_memory):
  """--num_iw_train=1e8: one line before anything is made, not a stack
  from inside TensorFlow's shape inference."""
  run_dir, out = past_memory['--num_iw_train=100000000']
  assert out.returncode == 1, out.stderr[-3000:]
  assert out.stderr.strip().splitlines()[-1] == (
      'error: num_iw_train=100000000 with batch_size=100 makes 10000000000 '
      'images of 784 pixels in one step, more than a tensor holds '
      '(2147483647 values); use at most num_iw_train=27391.')
  assert not os.path.exists(run_dir)


# Model size (`dvae_tf.models.size`): what the variables take, counted in a
# throwaway graph, against the variables of the model itself.

def test_variable_bytes_are_those_of_the_built_model():
  """The graph-mode count equals the bytes of the eagerly built model's
  variables, trainable and not (the feed-forward model; DVAE++ is not
  counted: its construction computes eagerly)."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  from dvae_tf.models import config as config_lib  # pylint: disable=g-import-not-at-top
  from dvae_tf.models import size  # pylint: disable=g-import-not-at-top
  mean = np.full((28, 28, 1), 0.2, np.float32)
  assert size.variable_bytes(config_lib.DVAEppConfig(struct='cpu'),
                             mean) is None
  for config in (MODEL, dataclasses.replace(MODEL, hidden_units=37,
                                            num_chains=11)):
    model = config_lib.build_model(config, mean)
    model.build()
    trainable = sum(v.numpy().nbytes for v in model.trainable_variables)
    everything = sum(v.numpy().nbytes for v in model.variables)
    assert size.variable_bytes(config, mean) == (trainable,
                                                 everything - trainable)


def test_building_the_rbm_graph_takes_at_most_edge_bytes_per_coupling(server):
  """The peak of a graph-mode build of a model with 9 million couplings,
  above the process's size before it, per coupling (the resident size read
  every millisecond, as PEAKS does: TensorFlow's start-up may peak higher
  than the build, hiding it from the process's maximum)."""
  code = f"""
import sys
sys.path.insert(0, {REPO!r})
import numpy as np
from dvae_tf.models import config as config_lib, size
{PEAK_WATCH}
mean = np.full((28, 28, 1), 0.2, np.float32)
config = config_lib.ModelConfig(struct='2-layer-nonlin', prior='rbm',
                                units_per_group=3000)
before = resident()
watch_peak(before)
size.variable_bytes(config, mean)
time.sleep(0.01)
print((peak[0] - before) / size.default_graph_couplings(config))
"""
  out = server.run(['-c', code], timeout=300)
  assert out.returncode == 0, out.stderr[-3000:]
  from dvae_tf.models import size  # pylint: disable=g-import-not-at-top
  per_coupling = float(out.stdout.split()[-1])
  assert 40 < per_coupling <= size.EDGE_BYTES, per_coupling


def test_a_model_too_large_names_a_value_that_fits(monkeypatch):
  from dvae_tf.models import size  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  mean = np.full((28, 28, 1), 0.2, np.float32)
  free = 64 * 2**20
  # Every size flag set: the hint names the one that saves the most
  # (it named units_per_group=1 when the chains were the problem).
  large = dataclasses.replace(MODEL, num_chains=10**7, units_per_group=8,
                              hidden_units=16)
  # The search for the value stops after `HINT_SECONDS`; on cores shared
  # with other work it can stop before the bisection ends (it stopped at
  # 16384 chains beside three other processes on two cores), and the
  # largest value is what this test checks.
  monkeypatch.setattr(size, 'HINT_SECONDS', 600.)
  with pytest.raises(size.ModelSizeError,
                     match=r'^The model \(hidden_units=16, units_per_group=8, '
                           r'num_chains=10000000\) needs \S+ '
                           r'GiB for its variables, their gradients, '
                           r"Adam's slots and initial values, more than the "
                           r'0\.1 GiB free on '
                           r'here; lower num_chains: num_chains=\d+ fits\.$'
                     ) as error:
    size.check_fits(large, mean, free, 'here')
  value = int(str(error.value).rsplit('=', 1)[1].split()[0])
  assert size.training_bytes(dataclasses.replace(large, num_chains=value),
                             mean, free) <= free
  # Found by bisection: twice as many does not fit.
  assert size.training_bytes(dataclasses.replace(large,
                                                 num_chains=2 * value),
                             mean, free) > free


@pytest.mark.parametrize('config', [
    dict(struct='1-layer-nonlin', prior='rbm', units_per_group=6,
         hidden_units=10, num_chains=7),
    dict(struct='2-layer-nonlin', prior='rbm', units_per_group=5,
         hidden_units=9, num_chains=3, batch_norm=True, graph='chimera:1')],
    ids=['rbm', 'chimera_2_layer_bn'])
def test_the_quadratic_count_equals_builds(config):
  """`variable_bytes_in` against a build at values it neither fitted nor
  checked, for every size field of each model (the 1-layer RBM's units per
  group at even values only: K_{n/2, n/2} over its one group)."""
  from dvae_tf.models import config as config_lib  # pylint: disable=g-import-not-at-top
  from dvae_tf.models import size  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  mean = np.full((28, 28, 1), 0.2, np.float32)
  config = config_lib.ModelConfig(**config)
  fields = size.size_fields(config)
  assert fields
  for field in fields:
    stride, count = size.variable_bytes_in(config, field, mean)
    for value in (7 * stride, 61 * stride):
      varied = dataclasses.replace(config, **{field: value})
      assert count(varied) == size.variable_bytes(varied, mean), (field,
                                                                  value)


def test_a_count_that_is_no_quadratic_falls_back_to_builds(monkeypatch):
  """A count that steps (as a capped width would) fails the check: no
  quadratic, and the hint's search builds every value it tries."""
  from dvae_tf.models import size  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  mean = np.full((28, 28, 1), 0.2, np.float32)
  real = size.variable_bytes

  def capped(config, train_mean):
    return real(dataclasses.replace(
        config, hidden_units=min(config.hidden_units, 6)), train_mean)

  config = dataclasses.replace(MODEL, struct='1-layer-nonlin',
                               hidden_units=20)
  monkeypatch.setattr(size, 'variable_bytes', capped)
  assert size.variable_bytes_in(config, 'hidden_units', mean) is None
  assert size.variable_bytes_in(config, 'num_chains', mean) is not None


@pytest.mark.parametrize('flag, start', [
    ('--hidden_units=100000000', 'error: The model (hidden_units=100000000, '),
    ('--units_per_group=100000000',
     'error: The model (hidden_units=100, units_per_group=100000000, '
     'num_chains=100) has 1e+16 '
     'couplings in its RBM graph')])
def test_a_model_flag_past_memory_is_one_line(past_memory, flag, start):
  """Each was a traceback (TensorFlow's OOM, NumPy's ArrayMemoryError) or
  the process killed as the weights were filled; nothing is made."""
  run_dir, out = past_memory[flag]
  assert out.returncode == 1, out.stderr[-3000:]
  assert 'Traceback' not in out.stderr
  last = out.stderr.strip().splitlines()[-1]
  assert last.startswith(start), last
  assert ' fits.' in last, last
  assert not os.path.exists(os.path.join(run_dir, 'config.json'))


def test_ais_memory_per_chain_unit_is_within_its_bound(server):
  """The peak of AIS over 100,000 chains of a 200 + 200 RBM, above the
  process's size before it, per chain and unit (read as PEAKS does)."""
  code = f"""
import sys
sys.path.insert(0, {REPO!r})
import tensorflow as tf
from dvae_tf.distributions import RBM
from dvae_tf.distributions.ais import ais_log_normalizer
{PEAK_WATCH}
rbm = RBM(tf.zeros([200]), tf.zeros([200]), tf.zeros([200, 200]))
ais_log_normalizer(rbm, num_chains=2, num_temperatures=3, seed=(1, 2))
before = resident()
watch_peak(before)
ais_log_normalizer(rbm, num_chains=100_000, num_temperatures=3, seed=(1, 2))
time.sleep(0.01)
print((peak[0] - before) / (100_000 * 400))
"""
  out = server.run(['-c', code], timeout=300)
  assert out.returncode == 0, out.stderr[-3000:]
  from dvae_tf.distributions import ais  # pylint: disable=g-import-not-at-top
  per_state = float(out.stdout.split()[-1])
  assert 8 < per_state <= ais.AIS_BYTES_PER_CHAIN_UNIT, per_state


def test_ais_past_memory_or_its_temperature_bound_is_one_line():
  from dvae_tf.distributions import ais  # pylint: disable=g-import-not-at-top
  with pytest.raises(ValueError, match=r'^AIS with ais_chains=2000000000 over '
                     r'400 units needs \S+ GiB, more than the 1\.0 GiB free on '
                     r'here; use at most ais_chains=(\d+)\.$') as error:
    ais.check_ais_fits(2_000_000_000, 1000, 400, 2**30, 'here')
  most = int(str(error.value).rsplit('=', 1)[1][:-1])
  ais.check_ais_fits(most, 1000, 400, 2**30, 'here')  # It fits.
  with pytest.raises(ValueError):
    ais.check_ais_fits(most + 1, 1000, 400, 2**30, 'here')
  with pytest.raises(ValueError, match='ais_temperatures=2000000000 is more '
                     'than 1000000'):
    ais.check_ais_fits(1024, 2_000_000_000, 400, 2**40, 'here')


def test_running_out_of_memory_while_making_the_model_is_one_line(
    monkeypatch):
  """Past the count (temporaries it does not see), TensorFlow's OOM while
  the model is made becomes one line naming the size flags."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from dvae_tf import run_directory  # pylint: disable=g-import-not-at-top
  from dvae_tf.models import config as config_lib  # pylint: disable=g-import-not-at-top
  from dvae_tf.models import size  # pylint: disable=g-import-not-at-top

  def out_of_memory(*args, **kwargs):
    raise tf.errors.ResourceExhaustedError(
        None, None, '{{function_node __wrapped__Mul}} OOM when allocating '
        'tensor with shape[2000000000,2] and type float on /job:localhost')

  monkeypatch.setattr(size, 'check_fits', lambda *args: None)
  monkeypatch.setattr(config_lib, 'build_model', out_of_memory)
  with pytest.raises(size.ModelSizeError, match=(
      r'^Making the model \(units_per_group=8, num_chains=7\) ran out of '
      r'memory \(OOM when allocating tensor with shape\[2000000000,2\] and '
      r'type float\); lower the largest of these\.$')):
    run_directory.build_model_and_optimizer(
        dataclasses.replace(MODEL, num_chains=7), TRAIN, None,
        tf.distribute.get_strategy(), save_mean=False)
