"""Runs many short binary invocations with one TensorFlow import.

Each binary started as its own process spends about 5 s of CPU importing
TensorFlow and TensorFlow Probability before it reads a flag. `run` starts
one server process that does those imports once (after `dvae_tf.binaries`,
which quiets TensorFlow's start-up logging, as the binaries do), then forks a
child per invocation. The child imports its binary's module (which defines
its flags) and runs it as `python bin/<binary> args...` would, with its own
stdout, stderr and exit status. Nothing of TensorFlow's runtime exists
before the fork (the server runs no op), so each child starts it afresh.

    outs = run([('train.py', ['--num_steps=abc']), ...], cwd=REPO)
    outs[0].returncode, outs[0].stdout, outs[0].stderr
"""

import importlib
import json
import os
import subprocess
import sys
import tempfile
import types

_PARALLEL = 3


def run(invocations, cwd, timeout=600, env=None):
  """[(binary, args)] -> [namespace(returncode, stdout, stderr)], in order."""
  with tempfile.TemporaryDirectory() as tmp:
    request = os.path.join(tmp, 'request.json')
    with open(request, 'w') as f:
      json.dump({'cwd': cwd, 'tmp': tmp,
                 'invocations': [[b, list(a)] for b, a in invocations]}, f)
    server = subprocess.run(
        [sys.executable, '-m', 'tests.forked_binaries', request],
        capture_output=True, text=True, cwd=cwd, timeout=timeout,
        check=False, env=env)
    if server.returncode != 0:
      raise RuntimeError(f'forked_binaries server failed: {server.stderr}')
    codes = json.loads(server.stdout.strip().splitlines()[-1])
    outs = []
    for i, code in enumerate(codes):
      streams = []
      for name in ('stdout', 'stderr'):
        with open(os.path.join(tmp, f'{i}.{name}'), errors='replace') as f:
          streams.append(f.read())
      outs.append(types.SimpleNamespace(returncode=code, stdout=streams[0],
                                        stderr=streams[1]))
    return outs


def _child(binary, args, cwd, tmp, i):
  """Runs `bin/<binary> args` in this (forked) process; never returns."""
  import runpy  # pylint: disable=g-import-not-at-top
  import traceback  # pylint: disable=g-import-not-at-top
  for fd, name in ((1, 'stdout'), (2, 'stderr')):
    out = os.open(os.path.join(tmp, f'{i}.{name}'),
                  os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    os.dup2(out, fd)
    os.close(out)
  path = os.path.join(cwd, 'bin', binary)
  sys.argv = [path, *args]
  code = 0
  try:
    runpy.run_path(path, run_name='__main__')
  except SystemExit as e:
    code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
  except BaseException:  # pylint: disable=broad-except
    traceback.print_exc()
    code = 1
  sys.stdout.flush()
  sys.stderr.flush()
  os._exit(code)  # pylint: disable=protected-access


def _serve(request_path):
  with open(request_path) as f:
    request = json.load(f)
  # The imports every binary makes, in the binaries' order.
  for module in ('dvae_tf.binaries', 'dvae_tf.binaries.cli',
                 'tensorflow_probability'):
    importlib.import_module(module)
  running, codes = {}, [None] * len(request['invocations'])
  for i, (binary, args) in enumerate(request['invocations']):
    while len(running) >= _PARALLEL:
      pid, status = os.wait()
      codes[running.pop(pid)] = os.waitstatus_to_exitcode(status)
    pid = os.fork()
    if pid == 0:
      _child(binary, args, request['cwd'], request['tmp'], i)
    running[pid] = i
  while running:
    pid, status = os.wait()
    codes[running.pop(pid)] = os.waitstatus_to_exitcode(status)
  print(json.dumps(codes))


if __name__ == '__main__':
  _serve(sys.argv[1])
