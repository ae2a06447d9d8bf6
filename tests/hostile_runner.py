"""Runs `python main.py ARGS` cases for tests/test_bad_input.py, each in its own forked process.

Started once per test module (`python tests/hostile_runner.py`); reads one JSON case a line on
stdin, answers one JSON result a line on stdout. Importing torch and the commands costs 2-5 s on
the project's loaded 2-core machine, a case a fraction of that, so the imports happen once here
and every case runs in a fresh fork of this clean process: cases cannot see each other's state,
and the parent never runs a case itself. In the child, exactly what `python main.py` does: main()
with argv, an uncaught exception printed as a traceback with exit code 1.

Case: {argv, cwd, mem_bytes (RLIMIT_AS of the child), timeout_s, unprivileged (drop root's
power to write where the mode bits forbid it, so read-only folders mean something to root)}.
Result: {rc, signal, timed_out, wall_s, maxrss_kb, stdout, stderr}.
"""
import ctypes
import json
import os
import resource
import select
import signal
import sys
import time
import traceback

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
os.environ.setdefault('QT_QPA_PLATFORM', 'offscreen')

import torch  # noqa: E402

# One torch thread, as conftest.py: two threads on the loaded 2-core machine can be 30x slower.
# Set before any fork, and no torch op runs here, so no OpenMP pool exists to be broken by fork.
torch.set_num_threads(1)

import main  # noqa: E402

# What the commands import lazily, loaded once so a fork does not pay for it again.
PRELOAD = ('core.model_io', 'core.render', 'core.video', 'core.projection', 'core.directions',
           'core.direction_files', 'core.session_file', 'core.label_file', 'core.align', 'core.default_model',
           'train.dataset', 'train.dataset_tool', 'train.metrics', 'train.snapshot', 'train.loop', 'tqdm',
           'imageio_ffmpeg', 'safetensors.torch', 'torch._dynamo') + tuple(f'cli.{name}' for name in main.COMMANDS)

CANNOT_DROP = 77  # the exit code of a case that needed drop_dac_override and could not have it
_CAP_DAC_OVERRIDE = 1
_PR_CAPBSET_DROP = 24
_LINUX_CAPABILITY_VERSION_3 = 0x20080522


class _CapHeader(ctypes.Structure):
    _fields_ = [('version', ctypes.c_uint32), ('pid', ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [('effective', ctypes.c_uint32), ('permitted', ctypes.c_uint32), ('inheritable', ctypes.c_uint32)]


def drop_dac_override():
    """Root ignores mode bits on writes through CAP_DAC_OVERRIDE; drop it (effective and
    permitted, which access() consults for root; and from the bounding set, or a program this
    process starts, such as ffmpeg, would get it back) so a 0o555 folder refuses root as anyone."""
    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_CAPBSET_DROP, _CAP_DAC_OVERRIDE, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), 'prctl(PR_CAPBSET_DROP) failed')
    header, data = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0), (_CapData * 2)()
    if libc.capget(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), 'capget failed')
    data[0].effective &= ~(1 << _CAP_DAC_OVERRIDE)
    data[0].permitted &= ~(1 << _CAP_DAC_OVERRIDE)
    if libc.capset(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), 'capset failed')


def _child(case, out_path, err_path):
    code = 1
    try:
        os.chdir(case['cwd'])
        fd_in = os.open(os.devnull, os.O_RDONLY)
        fd_out = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        fd_err = os.open(err_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        for fd, target in ((fd_in, 0), (fd_out, 1), (fd_err, 2)):
            os.dup2(fd, target)
        if case.get('unprivileged'):
            try:
                drop_dac_override()
            except OSError:  # a container that forbids it: the case cannot mean anything here
                os._exit(CANNOT_DROP)
        mem = case.get('mem_bytes')
        if mem:
            resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
        sys.argv = ['main.py'] + list(case['argv'])
        try:
            code = main.main(case['argv'])
        except SystemExit as e:  # argparse's errors and --help
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        except BaseException:  # what the interpreter does with an uncaught exception
            traceback.print_exc()
            code = 1
    except BaseException:
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code if isinstance(code, int) else 1)


def run_case(case, work):
    out_path, err_path = os.path.join(work, 'stdout'), os.path.join(work, 'stderr')
    sys.stdout.flush()
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        _child(case, out_path, err_path)
    deadline = start + case.get('timeout_s', 60)
    timed_out = False
    while True:
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            timed_out = True
            _, status, usage = os.wait4(pid, 0)
            break
        select.select([], [], [], 0.01)
    result = dict(rc=os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
                  signal=os.WTERMSIG(status) if os.WIFSIGNALED(status) else None, timed_out=timed_out,
                  wall_s=round(time.monotonic() - start, 3), maxrss_kb=usage.ru_maxrss)
    for key, path in (('stdout', out_path), ('stderr', err_path)):
        with open(path, encoding='utf-8', errors='replace') as f:
            result[key] = f.read()[-20000:]
    return result


def _warm_up():
    """Building a network on the meta device (as every reader does) imports torch._dynamo and its
    decompositions on first use, 3 s each case would pay again; meta tensors run no kernels, so
    the parent still runs no real torch op before it forks."""
    from core.networks import Discriminator, Generator
    with torch.device('meta'):
        Generator(z_dim=4, c_dim=0, w_dim=4, img_resolution=8, img_channels=3)
        Discriminator(c_dim=0, img_resolution=8, img_channels=3)


def serve():
    import importlib
    for name in PRELOAD:
        importlib.import_module(name)
    _warm_up()
    work = sys.argv[1]
    print(json.dumps({'ready': True}), flush=True)
    for line in sys.stdin:
        if line.strip():
            print(json.dumps(run_case(json.loads(line), work)), flush=True)


if __name__ == '__main__':
    serve()
