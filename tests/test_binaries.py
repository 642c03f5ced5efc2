"""The binaries start quietly (TensorFlow's start-up lines are not shown,
anything else written while it starts is), and a benchmark measurement runs
as a program of its own."""

import json
import os
import subprocess
import sys

from dvae_tf import binaries

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# What TensorFlow 2.21 writes while it starts on a machine without a GPU.
STARTUP = '''\
WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
I0000 00:00:1796356997.782884   10583 port.cc:153] oneDNN custom operations are on.
I0000 00:00:1796356997.783255   10583 cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will not be used.
I0000 00:00:1796356997.827472   10583 cpu_feature_guard.cc:227] This TensorFlow binary is optimized to use available CPU instructions in performance-critical operations.
To enable the following instructions: AVX2 AVX512F AVX512_VNNI AVX512_BF16 FMA, in other operations, rebuild TensorFlow with the appropriate compiler flags.
E0000 00:00:1796357002.865721   10583 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)
'''
REAL = ('E0000 00:00:1796357002.9   10583 op_kernel.cc:1] Something broke\n'
        '/x/y.py:3: DeprecationWarning: old\n')


def test_startup_noise_is_dropped_and_real_lines_kept():
  kept = binaries.startup_lines_to_keep(STARTUP + REAL, have_gpu=False)
  assert kept == REAL.splitlines()
  # Where there is a GPU, a failed cuInit is an error worth seeing.
  kept = binaries.startup_lines_to_keep(STARTUP, have_gpu=True)
  assert len(kept) == 1 and 'cuInit' in kept[0]


def test_verbosity_or_the_environment_bring_the_lines_back():
  wants = binaries._wants_startup_logs  # pylint: disable=protected-access
  assert not wants(['train'], {})
  assert not wants(['train', '--verbosity=-1'], {})
  assert wants(['train', '--verbosity=0'], {})
  assert wants(['train', '-v', '1'], {})
  assert wants(['train'], {'DVAE_TF_STARTUP_LOGS': '1'})
  assert wants(['train'], {'TF_CPP_MIN_LOG_LEVEL': '0'})
  # A caller's level that hides TensorFlow's INFO lines does not reach the
  # start-up lines, which are logged before it is read: they stay captured.
  assert not wants(['train'], {'TF_CPP_MIN_LOG_LEVEL': '2'})


def test_dvae_train_demo_prints_no_tensorflow_startup_lines(tmp_path):
  # A user's environment: without the suite's XLA cache (tests/conftest.py).
  env = {k: v for k, v in os.environ.items()
         if k not in ('DVAE_TF_STARTUP_LOGS', 'TF_XLA_FLAGS')}
  env['TF_CPP_MIN_LOG_LEVEL'] = '2'  # As the test suite's own (conftest).
  out = subprocess.run(
      [sys.executable, os.path.join(REPO, 'bin', 'train.py'), '--preset=demo',
       '--num_steps=1', f'--run_dir={tmp_path}'],
      capture_output=True, text=True, timeout=300, check=True, env=env)
  lines = out.stderr.splitlines()
  assert not [l for l in lines if l[:1] in 'IWE' and l[1:5].isdigit()], (
      out.stderr)
  assert not [l for l in lines if 'absl::InitializeLog' in l], out.stderr
  assert '"step": 1' in out.stdout


def test_a_benchmark_measurement_runs_in_its_own_process():
  """With prepared input, the path that differs from `training.train`'s
  (the default is that path plus the live pipeline)."""
  out = subprocess.run(
      [sys.executable, '-m', 'dvae_tf.binaries.measure',
       '--cell=training_step', '--steps=2', '--dataset=sample',
       '--prepared_input'],
      capture_output=True, text=True, cwd=REPO, timeout=300, check=False)
  assert out.returncode == 0, out.stderr[-2000:]
  record = json.loads(out.stdout.strip().splitlines()[-1])
  assert record['ms_per_step'] > 0 and record['chains'] == 100
  assert record['prepared_input'] is True


def test_a_benchmark_report_names_the_cpu(tmp_path):
  from dvae_tf import cpu
  from dvae_tf.benchmarks import report
  cpuinfo = tmp_path / 'cpuinfo'
  cpuinfo.write_text(
      'processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Platinum\n'
      'flags\t\t: fpu sse avx2 fma avx512f amx_tile\n\n'
      'processor\t: 1\nmodel name\t: Intel(R) Xeon(R) Platinum\n'
      'flags\t\t: fpu sse avx2 fma avx512f amx_tile\n')
  assert cpu.describe(str(cpuinfo)) == (
      'Intel(R) Xeon(R) Platinum (avx512f, amx_tile, avx2, fma)')
  assert cpu.has_avx512(str(cpuinfo))
  cpuinfo = tmp_path / 'cpuinfo_without_avx'  # has_avx512 caches by path.
  cpuinfo.write_text('processor\t: 0\nmodel name\t: Some CPU\n'
                     'flags\t\t: fpu sse\n')
  assert cpu.describe(str(cpuinfo)) == 'Some CPU'
  assert not cpu.has_avx512(str(cpuinfo))
  assert cpu.describe(str(tmp_path / 'missing'))
  assert report.environment()['cpu'] == cpu.describe()


def test_run_dir_is_the_flag_and_model_dir_its_alias():
  from absl import flags
  from dvae_tf.binaries import cli
  values = flags.FlagValues()
  cli.define_run_dir_flag('help', flag_values=values)
  values(['prog', '--model_dir=runs/old'])
  assert values.run_dir == 'runs/old'
  values = flags.FlagValues()
  cli.define_run_dir_flag('help', flag_values=values)
  values(['prog', '--run_dir=runs/new'])
  assert values.run_dir == 'runs/new'
