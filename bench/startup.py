"""First start: seconds from launching the explorer to the bundled model's first painted frame.

    python bench/startup.py              # 3 fresh processes, offscreen
    python bench/startup.py --runs 5

Each run is a new Python process that starts the explorer as `python main.py` does (main.py's
environment and allocator setting, then explorer.app.open_explorer on the default network) and
exits when the first full frame has been painted. The time is taken by this script
around the whole process, so it includes the interpreter, every import, opening the network and
the first render. The target (issue: first start) is under 10 s on the project's 2-core CPU.
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET_S = 10.0

CHILD = r'''
import os, sys
os.environ.setdefault('QT_QPA_PLATFORM', 'offscreen')
sys.path.insert(0, os.getcwd())
import main  # noqa: F401  (its environment settings, as `python main.py`)
from core.allocator import keep_freed_memory
keep_freed_memory()
from explorer.app import open_explorer
app, window = open_explorer()
def painted(_tag):
    result = window.last_result
    if result is not None and not result.preview:
        print('FIRST_FRAME', window.network_info['random_init'], window.network_info['name'], flush=True)
        app.quit()
window.image_view.shown.connect(painted)
app.exec()
'''


def one_run():
    start = time.perf_counter()
    out = subprocess.run([sys.executable, '-c', CHILD], cwd=ROOT, capture_output=True, text=True, timeout=120)
    seconds = time.perf_counter() - start
    line = next((l for l in out.stdout.splitlines() if l.startswith('FIRST_FRAME')), None)
    if line is None:
        raise SystemExit(f'the explorer did not paint a frame:\n{out.stdout}\n{out.stderr}')
    _, random_init, name = line.split(' ', 2)
    return seconds, name, random_init == 'True'


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--runs', type=int, default=3)
    args = parser.parse_args()
    times = []
    for i in range(args.runs):
        seconds, name, random_init = one_run()
        times.append(seconds)
        print(f'run {i + 1}: {seconds:.2f} s to the first frame of {name}{" (random stand-in)" if random_init else ""}')
    worst = max(times)
    print(f'median {statistics.median(times):.2f} s, worst {worst:.2f} s; target under {TARGET_S:.0f} s: '
          f'{"PASS" if worst < TARGET_S else "FAIL"}')


if __name__ == '__main__':
    main()
