"""Cached re-render after an edit vs a full render, and the cost of PCA in W.

    python bench/render.py                                   # 256 and 1024, CPU fp32, PCA of 100,000 w
    python bench/render.py --threads 2 --repeats 5
    python bench/render.py --sizes 64 --repeats 2 --samples 2000 --threads 1   # smoke test (tiny model)

1. Renderer cache (batch 1, noise const, random weights): a full render is a request for a new
   seed (misses the mapping and block caches); an edit is a direction `Offset` on the rows of one
   layer group (or only the rows read by the two finest blocks) of a seed rendered just before, with
   a new amount each repeat, so the layers the edit reaches recompute and the prefix comes from the
   cache (whole blocks, and the first recomputed block's layers before the edit's first row).
   'uncached synthesize()' is the same image without the Renderer, for reference.
2. PCA: `core.directions.PCADirections.fit` (what `directions pca` runs) on the 1024 config-f
   mapping network: wall time and peak RSS growth of this process while it runs.
Each run checks the targets from the measured numbers and prints PASS / FAIL.
"""
import argparse
import os
import resource
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from core.allocator import keep_freed_memory  # noqa: E402

keep_freed_memory()  # as main.py does for every command

import numpy as np  # noqa: E402
import torch  # noqa: E402

from core.directions import PCADirections  # noqa: E402
from core.networks import Generator  # noqa: E402
from core.noise_spec import NoiseSpec  # noqa: E402
from core.render import Renderer, synthesize  # noqa: E402
from core.request import Offset, RenderRequest  # noqa: E402
from core.ws_rows import layer_groups  # noqa: E402

CONFIGS = {  # resolution -> (name, z = w dim, mapping layers, channel_base, channel_max)
    64: ('64 (tiny, smoke test)', 128, 2, 2048, 128),
    256: ('256 (paper256)', 512, 8, 16384, 512),
    512: ('512 (config-f)', 512, 8, 32768, 512),
    1024: ('1024 (config-f)', 512, 8, 32768, 512),
}
FINEST_TWO_TARGET = 2.5  # x faster than a full render, at 1024
PCA_TARGETS = (60.0, 2.0)  # seconds, GiB


def build_generator(resolution, device):
    _, dim, layers, base, cmax = CONFIGS[resolution]
    torch.manual_seed(0)
    G = Generator(z_dim=dim, c_dim=0, w_dim=dim, img_resolution=resolution, img_channels=3,
                  mapping_kwargs=dict(num_layers=layers),
                  synthesis_kwargs=dict(channel_base=base, channel_max=cmax, num_fp16_res=4, conv_clamp=256))
    G.eval().requires_grad_(False)
    for name, p in G.named_parameters():
        if name.endswith('noise_strength'):  # zero at init: make the const noise count
            p.fill_(0.1)
    G.mapping.w_avg.normal_()
    return G.to(device)


def edit_kinds(G):
    """{label: (start, end)} ws rows of each edit measured."""
    ranges = G.synthesis.block_ws_ranges()
    start, count = ranges[-3]  # rows read by the last two blocks and by no earlier one
    kinds = {f'{name} (ws {s}-{e - 1})': (s, e) for name, (s, e) in layer_groups(G.num_ws).items()}
    kinds[f'two finest blocks (ws {start + count}-{G.num_ws - 1})'] = (start + count, G.num_ws)
    return kinds


def expected_work(G, start):
    """What an edit of rows [start, ...) must recompute: (resolutions of every block from the first
    that reads the rows, layers of that first block the Renderer takes from its cache instead). Those
    layers are the ones before row `start`: conv0 for an edit from the block's conv1 row, conv0 and
    conv1 for one from its ToRGB row, but never the last block's conv1 (its output is not kept)."""
    blocks, ranges = G.synthesis.blocks(), G.synthesis.block_ws_ranges()
    first = next(i for i, (s, c) in enumerate(ranges) if s + c > start)
    block = blocks[first]
    reused = [name for row, name in enumerate(block.conv_layers(), ranges[first][0]) if row < start]
    if first == len(blocks) - 1 and reused[-1:] == ['conv1']:
        reused = reused[:-1]
    return (tuple(b.resolution for b in blocks[first:]),
            tuple(f'b{block.resolution}.{name}' for name in reused))


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def bench_size(resolution, device, repeats):
    """Rows (label, ms, recomputed blocks, note) for one model; the first row is the full render."""
    G = build_generator(resolution, device)
    renderer = Renderer(G, force_fp32=device.type == 'cpu')
    renderer.render(RenderRequest(seed=10_000))  # warm-up: first-call costs are not a render's
    full = [timed(lambda: renderer.render(RenderRequest(seed=20_000 + i)))[0] for i in range(repeats)]
    rows = [('full render (new seed)', statistics.median(full) * 1e3, 'all', '')]

    ws = renderer.ws_for_request(RenderRequest(seed=0))
    noise = NoiseSpec()
    ref = [timed(lambda: synthesize(G, ws, noise, force_fp32=renderer.force_fp32))[0] for _ in range(repeats)]

    direction = np.random.RandomState(0).randn(G.w_dim).astype(np.float32)
    direction /= np.linalg.norm(direction)
    base = RenderRequest(seed=0)
    amount = 1.0
    for label, (start, end) in edit_kinds(G).items():
        primed = renderer.render(base)  # the unedited image: every block of seed 0 in the cache
        times, changed, computed = [], False, set()
        for _ in range(repeats):
            amount += 0.5  # a new amount each time: the edited blocks cannot come from the cache
            request = base.replace(offsets=(Offset(direction, amount, start, end),))
            seconds, result = timed(lambda: renderer.render(request))
            times.append(seconds)
            changed |= bool(np.any(result.image != primed.image))
            computed.add((result.computed_blocks, result.reused_layers))
        want = expected_work(G, start)
        note = '' if computed == {want} else f'UNEXPECTED: want {want}, got {sorted(computed)}'
        note += '' if changed else ' image unchanged!'
        blocks = f'{want[0][0]}-{want[0][-1]}' + (f' ({", ".join(want[1])} cached)' if want[1] else '')
        rows.append((f'edit: {label}', statistics.median(times) * 1e3, blocks, note.strip()))
    rows.append(('uncached synthesize() (no Renderer)', statistics.median(ref) * 1e3, 'all', 'reference'))
    return rows


class PeakRSS:
    """Peak resident set size while the block runs, sampled from /proc/self/statm by a thread,
    and ru_maxrss growth (the kernel's high-water mark, exact when nothing before went higher)."""
    page = os.sysconf('SC_PAGE_SIZE')

    def rss(self):
        with open('/proc/self/statm') as f:
            return int(f.read().split()[1]) * self.page

    def _sample(self):
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, self.rss())

    def __enter__(self):
        self.start = self.peak = self.rss()
        self.maxrss_start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.rss())
        maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        self.growth = max(self.peak - self.start, maxrss - self.maxrss_start)


def bench_pca(samples, device):
    G = build_generator(1024, device)  # only its mapping network runs
    with PeakRSS() as mem:
        seconds, pca = timed(lambda: PCADirections(n_samples=samples).fit(G))
    assert pca.n_samples_seen_ == samples
    return seconds, mem.growth / 2 ** 30, mem.peak / 2 ** 30


def verdict(ok):
    return 'PASS' if ok else 'FAIL'


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--sizes', default='256,1024', help=f'comma list among {",".join(map(str, CONFIGS))} '
                                                            '(64 is a tiny model for smoke tests)')
    parser.add_argument('--repeats', type=int, default=5, help='timed renders per row (the median is shown)')
    parser.add_argument('--threads', type=int, default=None, help='torch intra-op threads (default: torch default)')
    parser.add_argument('--samples', type=int, default=100_000, help='mapped samples for the PCA')
    parser.add_argument('--skip-pca', action='store_true')
    parser.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(',')]
    if any(s not in CONFIGS for s in sizes) or args.repeats < 1:
        parser.error(f'--sizes must be among {list(CONFIGS)} and --repeats at least 1')

    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    precision = 'fp32' if device.type == 'cpu' else 'fp16 high-res blocks'

    # PCA first, so the process's RSS high-water mark is not already raised by the render caches.
    pca = None if args.skip_pca else bench_pca(args.samples, device)

    print(f'# Renderer: full render vs cached edit, {device.type} {precision}, batch 1, noise const, '
          f'torch {torch.__version__}, {torch.get_num_threads()} threads, median of {args.repeats}')
    print('| model | render | ms | speedup vs full | blocks recomputed | note |')
    print('| --- | --- | --- | --- | --- | --- |')
    results = {}
    for res in sizes:
        rows = bench_size(res, device, args.repeats)
        results[res] = rows
        full_ms = rows[0][1]
        for label, ms, blocks, note in rows:
            print(f'| {CONFIGS[res][0]} | {label} | {ms:.1f} | {full_ms / ms:.2f}x | {blocks} | {note} |', flush=True)

    top = 1024 if 1024 in results else max(results)
    finest = next(ms for label, ms, _, _ in results[top] if label.startswith('edit: two finest'))
    speedup = results[top][0][1] / finest
    where = '' if top == 1024 else f' (1024 not measured: checked at {top})'
    print(f'\nTarget: an edit of the two finest blocks >= {FINEST_TWO_TARGET}x faster than a full render at 1024'
          f'{where}: {speedup:.2f}x {verdict(speedup >= FINEST_TWO_TARGET)}')
    slow = [(res, label, ms / rows[0][1]) for res, rows in results.items()
            for label, ms, _, _ in rows if label.startswith('edit') and ms > rows[0][1]]
    detail = ', '.join(f'{res}: {label} {ratio:.2f}x the full time' for res, label, ratio in slow)
    print(f'Target: no edit slower than a full render: {verdict(not slow)}{" (" + detail + ")" if slow else ""}')

    if pca is not None:
        seconds, growth, peak = pca
        print(f'\n# PCA in W (core.directions.PCADirections.fit, as `directions pca`): {args.samples} samples, '
              f'1024 config-f mapping, {device.type}, {torch.get_num_threads()} threads')
        print(f'wall {seconds:.1f} s, peak RSS growth {growth:.3f} GiB (process peak {peak:.2f} GiB)')
        print(f'Target: under {PCA_TARGETS[0]:.0f} s: {verdict(seconds < PCA_TARGETS[0])}; '
              f'under {PCA_TARGETS[1]:.0f} GiB: {verdict(growth < PCA_TARGETS[1])}')


if __name__ == '__main__':
    main()
