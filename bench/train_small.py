"""Training speed: sec/kimg of the `small` preset (or any --cfg) through the real training loop.

    python bench/train_small.py                                  # 64x64 random images, CPU
    python bench/train_small.py --data faces-64.zip --steps 32 --device cuda

Runs one warm-up step (tick 0, which also runs both regularisation phases), then `--steps`
steps as one tick (a multiple of 16, so lazy R1 and path-length regularisation are counted at
their real rates: R1 every 16 steps, path length every 4). Prints the loop's own sec/kimg for
that tick, for each `--precision` (default fp32,bf16: the same run in float32 and in bfloat16
mixed precision, alternated `--repeats` times so that both see the same machine load), and
bf16's speed-up. Nothing is kept: the run folders live in a temporary directory.
"""
import argparse
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from core.allocator import keep_freed_memory  # noqa: E402

keep_freed_memory()  # as main.py does for every command
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')

import numpy as np  # noqa: E402
import PIL.Image  # noqa: E402
import torch  # noqa: E402

from train.dataset import ImageDataset  # noqa: E402
from train.loop import training_loop  # noqa: E402
from train.presets import make_config  # noqa: E402
from train.snapshot import new_run_dir  # noqa: E402


def random_dataset(folder, resolution, count=64):
    rnd = np.random.RandomState(0)
    for i in range(count):
        img = rnd.randint(0, 256, (resolution, resolution, 3), dtype=np.uint8)
        PIL.Image.fromarray(img).save(os.path.join(folder, f'{i:03d}.png'))
    return folder


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--cfg', default='small')
    parser.add_argument('--data', help='dataset folder or zip (default: 64 random 64x64 images)')
    parser.add_argument('--resolution', type=int, default=64, help='of the random images (default: 64)')
    parser.add_argument('--steps', type=int, default=16, help='timed steps, a multiple of 16 (default: 16)')
    parser.add_argument('--batch', type=int, default=None, help='override the preset batch')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--precision', default='fp32,bf16', help='comma list of auto,fp32,bf16 (default: fp32,bf16)')
    parser.add_argument('--repeats', type=int, default=1, help='runs per precision, alternated (default: 1)')
    parser.add_argument('--threads', type=int, default=None, help='torch threads (default: torch default)')
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    precisions = args.precision.split(',')
    sec_kimg = {p: [] for p in precisions}
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data
        if data is None:
            data = os.path.join(tmp, 'data')
            os.makedirs(data)
            random_dataset(data, args.resolution)
        res = ImageDataset(data).resolution
        batch = make_config(args.cfg, res, batch=args.batch).batch
        for _ in range(args.repeats):
            for precision in precisions:
                cfg = make_config(args.cfg, res, data=data, batch=args.batch, kimg=(1 + args.steps) * batch / 1000,
                                  tick=args.steps * batch / 1000, snap=1000, device=args.device, precision=precision)
                start = time.time()
                result = training_loop(cfg, new_run_dir(os.path.join(tmp, 'runs'), 'bench'), progress=False)
                timed = result['ticks'][-1]
                sec_kimg[precision].append(timed['sec/kimg'])
                step = timed['sec/tick'] / args.steps
                print(f'{precision}: {timed["sec/kimg"]:.1f} sec/kimg  ({step:.2f} s/step over {args.steps} steps, '
                      f'{1000 / timed["sec/kimg"]:.2f} img/s; {time.time() - start:.0f} s with warm-up)', flush=True)
    print(f'cfg={args.cfg} resolution={res} batch={cfg.batch} cbase={cfg.cbase} cmax={cfg.cmax} z={cfg.z_dim} '
          f'device={args.device} threads={torch.get_num_threads()} repeats={args.repeats}')
    print('| precision | sec/kimg (median) | img/s | speed-up vs ' + precisions[0] + ' |')
    print('| --- | --- | --- | --- |')
    base = statistics.median(sec_kimg[precisions[0]])
    for precision in precisions:
        med = statistics.median(sec_kimg[precision])
        print(f'| {precision} | {med:.1f} | {1000 / med:.2f} | {base / med:.2f}x |')


if __name__ == '__main__':
    main()
