"""Runs many short binary invocations with one TensorFlow import.

Each binary started as its own process spends about 5 s of CPU importing
TensorFlow and TensorFlow Probability before it reads a flag. `run` starts
one server process (a `Server`) that does those imports once (after `dvae_tf.binaries`,
which quiets TensorFlow's start-up logging, as the binaries do), then forks a
child per invocation. The child imports its binary's module (which defines
its flags) and runs it as `python bin/<binary> args...` would, with its own
stdout, stderr and exit status. Nothing of TensorFlow's runtime exists
before the fork (the server runs no op), so each child starts it afresh.

    outs = run([('train.py', ['--num_steps=abc']), ...], cwd=REPO)
    outs[0].returncode, outs[0].stdout, outs[0].stderr

`Server` keeps such a process for as long as a test module needs it and
forks a child whenever asked, one program at a time: a binary, or Python code
as `python -c CODE args...` would run it. `Server.start` answers at once with
a handle like `subprocess.Popen`'s (pid, poll, wait, send_signal, kill,
communicate), so a test can kill the child at a point of its choosing or
start another while one runs; the child is a process of its own, with its
own pid, signals and exit status, only without the seconds of imports.

    with Server(REPO) as server:
      proc = server.start(['-c', CODE, run_dir])
      code, (out, err) = proc.wait(), proc.communicate()
"""

import importlib
import json
import os
import re
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import types

_PARALLEL = 3
# The imports every binary makes, in the binaries' order.
BINARY_IMPORTS = ('dvae_tf.binaries', 'dvae_tf.binaries.cli',
                  'tensorflow_probability')
# What TensorFlow logs when it loads an XLA program from the suite's
# persistent cache (tests/conftest.py):
# - it tries the entry as text before reading it as the binary proto it is;
# - on AVX-512 hosts, XLA's loader compares the program's LLVM target
#   features with the host's ISA features and names the two tuning flags
#   its own compiler adds there (+prefer-no-scatter, +prefer-no-gather),
#   which are no instructions: the program was compiled on this host. Any
#   other feature it names is kept, so a real mismatch still shows.
# A program run by a user, without the cache, never writes either.
XLA_CACHE_NOISE = re.compile(
    r'^E\d{4} [^\n]*(text_format\.cc:\d+\] Error parsing text-format '
    r'tensorflow\.XlaSerializedCacheEntry|cpu_aot_loader\.cc:\d+\] Loading '
    r'XLA:CPU AOT result\. Target machine feature '
    r'\+prefer-no-(scatter|gather) is not )[^\n]*\n?', re.MULTILINE)
# Lines of the server's protocol on its stdout start with this.
_MARK = '@forked '


def run(invocations, cwd, timeout=600, env=None):
  """[(binary, args)] -> [namespace(returncode, stdout, stderr)], in order,
  forked by one `Server`, at most `_PARALLEL` running at a time; `env`
  replaces each child's environment."""
  deadline = time.monotonic() + timeout
  with Server(cwd) as server:
    children = []
    for binary, args in invocations:
      if len(children) >= _PARALLEL:
        children[-_PARALLEL].wait(deadline - time.monotonic())
      children.append(server.start([binary, *args], env=env))
    outs = []
    for child in children:
      stdout, stderr = child.communicate(deadline - time.monotonic())
      outs.append(types.SimpleNamespace(returncode=child.returncode,
                                        stdout=stdout, stderr=stderr))
    return outs


def _child(binary, args, cwd, tmp, i, env=None, fsize=None, merge=False):
  """Runs `bin/<binary> args` in this (forked) process, or as `python -c`
  or `python -m` would with `binary` '-c' or '-m' (`args[0]` the code or the
  module); never returns. `env` replaces the environment; `fsize` is an
  RLIMIT_FSIZE in bytes; `merge` writes stderr to stdout."""
  import resource  # pylint: disable=g-import-not-at-top
  import runpy  # pylint: disable=g-import-not-at-top
  import traceback  # pylint: disable=g-import-not-at-top
  null = os.open(os.devnull, os.O_RDONLY)  # Not the server's requests.
  os.dup2(null, 0)
  os.close(null)
  for fd, name in ((1, 'stdout'), (2, 'stderr')):
    if merge and fd == 2:
      os.dup2(1, 2)
      continue
    # A file, or the named pipe a `Server` reads.
    out = os.open(os.path.join(tmp, f'{i}.{name}'),
                  os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    os.dup2(out, fd)
    os.close(out)
  if env is not None:
    os.environ.clear()
    os.environ.update(env)
  if fsize is not None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
  # The thread of `dvae_tf.binaries` that ends a program stopped in a long
  # TensorFlow call: a fork copies no thread, so it starts again here.
  binaries = sys.modules.get('dvae_tf.binaries')
  if binaries is not None:
    binaries._watch_signals()  # pylint: disable=protected-access
  code = 0
  try:
    if binary == '-c':
      sys.argv = ['-c', *args[1:]]
      exec(compile(args[0], '<string>', 'exec'),  # pylint: disable=exec-used
           {'__name__': '__main__', '__builtins__': __builtins__})
    elif binary == '-m':
      sys.argv = list(args)
      runpy.run_module(args[0], run_name='__main__', alter_sys=True)
    else:
      path = os.path.join(cwd, 'bin', binary)
      sys.argv = [path, *args]
      runpy.run_path(path, run_name='__main__')
  except SystemExit as e:
    code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
  except BaseException:  # pylint: disable=broad-except
    traceback.print_exc()
    code = 1
  sys.stdout.flush()
  sys.stderr.flush()
  os._exit(code)  # pylint: disable=protected-access


class _Stream:
  """Reads what a child writes to one of its streams, a named pipe (like
  `subprocess.PIPE`, and unlike a file not bound by the child's
  RLIMIT_FSIZE), as it comes."""

  def __init__(self, path):
    os.mkfifo(path)
    self._chunks = []
    self._thread = threading.Thread(target=self._read, args=(path,),
                                    daemon=True)
    self._thread.start()

  def _read(self, path):
    with open(path, 'rb', buffering=0) as f:  # Once the child opens it.
      while chunk := f.read(65536):
        self._chunks.append(chunk)

  def text(self, wait=False):
    if wait:  # Every writer closed it (the child ended).
      self._thread.join(60)
    return XLA_CACHE_NOISE.sub(
        '', b''.join(self._chunks).decode('utf-8', 'replace'))


class Child:
  """A program forked by a `Server`, in the terms of `subprocess.Popen`: its
  stdout and stderr, as text, come from `communicate`."""
  # pylint: disable=protected-access

  def __init__(self, server, i, pid, streams):
    self._server, self._i, self.pid = server, i, pid
    self._streams = streams
    self.returncode = None

  def poll(self):
    if self.returncode is None:
      self.returncode = self._server._codes.get(self._i)
    return self.returncode

  def wait(self, timeout=None):
    deadline = None if timeout is None else time.monotonic() + timeout
    with self._server._changed:
      while self.poll() is None:
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
          raise subprocess.TimeoutExpired(f'forked child {self.pid}', timeout)
        if None in self._server._pids:
          raise RuntimeError('the forked_binaries server ended')
        self._server._changed.wait(left)
    return self.returncode

  def send_signal(self, sig):
    if self.poll() is None:
      os.kill(self.pid, sig)

  def kill(self):
    self.send_signal(9)

  def output(self):
    """(stdout, stderr) written so far."""
    return tuple(stream.text() for stream in self._streams) + ('',) * (
        2 - len(self._streams))

  def communicate(self, timeout=None):
    self.wait(timeout)
    return tuple(stream.text(wait=True) for stream in self._streams) + (
        '',) * (2 - len(self._streams))


class Server:
  """A process that made `imports` (the binaries' by default) and forks a
  `Child` per `start`; see the module's docstring. Close it (or use it as a
  context manager) to end it and any child still running."""

  def __init__(self, cwd, imports=BINARY_IMPORTS):
    self.cwd = cwd
    self.tmp = tempfile.mkdtemp(prefix='forked_binaries_')
    self._codes, self._pids, self._count = {}, {}, 0
    self._changed = threading.Condition()
    with open(os.path.join(self.tmp, 'server.stderr'), 'w') as err:
      self._process = subprocess.Popen(
          [sys.executable, '-m', 'tests.forked_binaries',
           self.tmp, json.dumps(list(imports))], stdin=subprocess.PIPE,
          stdout=subprocess.PIPE, stderr=err, cwd=cwd, text=True)
    self._reader = threading.Thread(target=self._read, daemon=True)
    self._reader.start()

  def _read(self):
    for line in self._process.stdout:
      if not line.startswith(_MARK):
        continue
      message = json.loads(line[len(_MARK):])
      with self._changed:
        if 'code' in message:
          self._codes[message['i']] = message['code']
        else:
          self._pids[message['i']] = message['pid']
        self._changed.notify_all()
    with self._changed:  # The server ended: no answer will come.
      self._pids.setdefault(None, None)
      self._changed.notify_all()

  def start(self, argv, env=None, fsize=None, stderr_to_stdout=False):
    """Forks `argv`: [binary, *args] runs bin/<binary>, ['-c', code, *args]
    the code, ['-m', module, *args] the module; `env` replaces the
    environment, `fsize` is an RLIMIT_FSIZE in bytes; `stderr_to_stdout`
    writes both streams to stdout (then stderr is ''). Returns the `Child`
    once it runs."""
    i, self._count = self._count, self._count + 1
    streams = [_Stream(os.path.join(self.tmp, f'{i}.{name}'))
               for name in ('stdout', 'stderr')[:1 + (not stderr_to_stdout)]]
    self._process.stdin.write(json.dumps(
        {'i': i, 'argv': list(argv), 'env': env, 'fsize': fsize,
         'merge': stderr_to_stdout}) + '\n')
    self._process.stdin.flush()
    with self._changed:
      while i not in self._pids:
        if None in self._pids:
          with open(os.path.join(self.tmp, 'server.stderr')) as f:
            raise RuntimeError(f'forked_binaries server failed: {f.read()}')
        self._changed.wait()
    return Child(self, i, self._pids[i], streams)

  def run(self, argv, timeout=600, **kwargs):
    """`start`, then the ended child: namespace(returncode, stdout,
    stderr), as `subprocess.run`'s."""
    child = self.start(argv, **kwargs)
    stdout, stderr = child.communicate(timeout)
    return types.SimpleNamespace(returncode=child.returncode, stdout=stdout,
                                 stderr=stderr)

  def close(self):
    if self._process.poll() is None:
      self._process.stdin.close()
      self._process.wait()
    shutil.rmtree(self.tmp, ignore_errors=True)

  def __enter__(self):
    return self

  def __exit__(self, *exc_info):
    self.close()


def _report(message):
  sys.stdout.write(_MARK + json.dumps(message) + '\n')
  sys.stdout.flush()


def _serve_forever(tmp, imports):
  """`Server`'s process: a request a line on stdin, answered with the
  child's pid and later its exit status; ends (killing any child left) at
  the end of stdin."""
  for module in imports:
    importlib.import_module(module)
  running, pending = {}, ''
  stdin = sys.stdin.fileno()
  while True:
    while running:
      pid, status = os.waitpid(-1, os.WNOHANG)
      if not pid:
        break
      _report({'i': running.pop(pid),
               'code': os.waitstatus_to_exitcode(status)})
    if not select.select([stdin], [], [], 0.02)[0]:
      continue
    chunk = os.read(stdin, 65536).decode()
    if not chunk:
      break
    pending += chunk
    while '\n' in pending:
      line, pending = pending.split('\n', 1)
      request = json.loads(line)
      sys.stdout.flush()
      sys.stderr.flush()
      pid = os.fork()
      if pid == 0:
        binary, *args = request['argv']
        _child(binary, args, os.getcwd(), tmp, request['i'],
               request['env'], request['fsize'], request['merge'])
      running[pid] = request['i']
      _report({'i': request['i'], 'pid': pid})
  for pid in running:
    os.kill(pid, 9)
  for pid in list(running):
    os.waitpid(pid, 0)
  os._exit(0)  # pylint: disable=protected-access  # No seconds of teardown.


if __name__ == '__main__':
  _serve_forever(sys.argv[1], json.loads(sys.argv[2]))
