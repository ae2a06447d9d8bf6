"""bench/device_check.sh --cpu-smoke: the accelerator script runs its checks on tiny sizes on the
CPU, so it cannot rot between the sessions that have a GPU."""
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_device_check_cpu_smoke():
    env = dict(os.environ, QT_QPA_PLATFORM='offscreen', PATH=os.path.dirname(sys.executable) + os.pathsep +
               os.environ.get('PATH', ''))
    result = subprocess.run(['bash', 'bench/device_check.sh', '--cpu-smoke'], cwd=REPO, capture_output=True, text=True,
                            timeout=300, env=env)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    out = result.stdout
    assert '| 64 |' in out and 'bf16 vs fp32' in out  # render speed and the half-precision difference
    assert 'default | 64 |' in out  # the explorer's latency
    assert 'fp32: ' in out and 'sec/kimg' in out  # training speed
