"""The training loop, as one straight script with marked sections (after the official
training_loop.py; facts in shared/reference/official-stylegan2-ada.md, 1c).

training_loop(cfg, run_dir, resume) trains until cfg.kimg thousand real images have been shown
to D. Every tick (cfg.tick kimg) it reports progress and appends to stats.jsonl; every cfg.snap
ticks it writes a sample grid, a snapshot and the metrics asked for. Under torchrun each process
trains on batch / world images per step and gradients are averaged (train/distributed.py);
rank 0 alone writes. Resuming from a snapshot restores everything the next step depends on
(weights, optimisers, counters, data position, ADA and path-length state, RNG states), so on
CPU a resumed run ends with exactly the weights of an uninterrupted one (at the same
cfg.precision: a run may be continued in another one, see train/presets.py).
"""
from __future__ import annotations

import copy
import json
import os
import sys
import time
from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm

from core.errors import Cancelled, StylescopeError, is_cancelled
from core.images import make_grid, save_png, to_uint8
from core.model_io import open_network
from core.networks import Discriminator, Generator
from train import distributed, snapshot
from train.augment import AdaptiveAugment, make_augment_pipe
from train.dataset import ImageDataset, InfiniteSampler
from train.loss import StyleGAN2Loss
from train.metrics import compute_metric
from train.presets import TrainConfig

GRID_SIZE = 32   # images in reals.png / fakes*.png


@dataclass
class Resume:
    """How to start: 'continue' a run exactly (network file + training state), or start from
    the 'weights' of any network file (fine-tuning, counters from zero)."""
    kind: str
    network: str
    state_path: str | None = None


@dataclass
class Phase:
    name: str
    module: torch.nn.Module
    opt: torch.optim.Optimizer
    interval: int


class RunningStats:
    """Per-tick sums and counts of the loss statistics, kept on the device until collected."""

    def __init__(self):
        self.sums = {}

    def add(self, stats):
        for name, t in stats.items():
            t = t.detach().double().flatten()
            entry = torch.stack([t.sum(), torch.tensor(float(t.numel()), dtype=torch.float64, device=t.device)])
            self.sums[name] = self.sums[name] + entry if name in self.sums else entry

    def means(self, d=None):
        """{name: mean} (all-reduced across processes when d is given); resets the sums."""
        names = sorted(self.sums)
        if not names:
            return {}
        stacked = torch.stack([self.sums[n] for n in names])
        if d is not None:
            distributed.all_reduce_sum(d, stacked)
        self.sums = {}
        return {n: float(s / c) for n, (s, c) in zip(names, stacked.cpu().tolist()) if c > 0}


def _copy_weights(src, dst, what, path):
    """Copy tensors of src into dst by name; shapes must match (fine-tuning a network file)."""
    src_state = src.state_dict()
    with torch.no_grad():
        for name, t in dst.state_dict().items():
            if name not in src_state:
                raise StylescopeError(f'{path}: its {what} has no tensor {name}; resume from a network of the same '
                                      f'architecture as this run.')
            if src_state[name].shape != t.shape:
                raise StylescopeError(f'{path}: its {what} tensor {name} has shape {list(src_state[name].shape)}, '
                                      f'this run needs {list(t.shape)}; fine-tune on data of the network\'s resolution.')
            t.copy_(src_state[name])


def _rng_state(device):
    return {'cpu': torch.get_rng_state(), 'cuda': torch.cuda.get_rng_state(device) if device.type == 'cuda' else None}


def _set_rng_state(state, device):
    torch.set_rng_state(state['cpu'])
    if device.type == 'cuda' and state.get('cuda') is not None:
        torch.cuda.set_rng_state(state['cuda'], device)


def _tensorboard(run_dir):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        print('note: TensorBoard scalars are skipped: the tensorboard package is not installed '
              '(pip install tensorboard); stats.jsonl has the same numbers', file=sys.stderr)
        return None
    return SummaryWriter(run_dir)


def training_loop(cfg: TrainConfig, run_dir: str, resume: Resume | None = None, progress=True,
                  d: distributed.Dist | None = None, cancel=None) -> dict:
    """Train; returns {'G', 'D', 'G_ema', 'augment_p', 'cur_nimg', 'ticks': [stats per tick], 'pl_mean'}.
    cancel (threading.Event or callable) stops between steps with core.errors.Cancelled; the run
    folder then holds the last snapshot, as after a kill."""
    own_group = d is None
    d = d or distributed.init(cfg.device)
    try:
        return _train(cfg, run_dir, resume, progress, d, cancel)
    finally:
        if own_group:
            distributed.shutdown(d)


def _train(cfg, run_dir, resume, progress, d, cancel):
    # ------------------------------------------------------------------------------------------
    # 1. Devices and random state
    device = d.device
    if device.type == 'cuda':
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = False   # as the official default (--allow-tf32 off)
        torch.backends.cudnn.allow_tf32 = False
    rounds = cfg.batch // (cfg.batch_gpu * d.world)      # gradient accumulation rounds per step
    assert rounds >= 1 and rounds * cfg.batch_gpu * d.world == cfg.batch, 'validate() should have caught this'
    writer = d.is_main

    # ------------------------------------------------------------------------------------------
    # 2. Data
    dataset = ImageDataset(cfg.data, use_labels=cfg.cond, xflip=cfg.mirror, max_size=cfg.subset,
                           random_seed=cfg.seed)
    if writer:
        print(f'dataset: {dataset.path}: {len(dataset)} images{" (with x-flips)" if cfg.mirror else ""}, '
              f'{dataset.resolution}x{dataset.resolution}, {dataset.num_channels} channel(s), '
              f'{dataset.label_dim} label dims')

    # ------------------------------------------------------------------------------------------
    # 3. Networks, augmentation, loss (every rank builds the same networks from cfg.seed)
    torch.manual_seed(cfg.seed)
    c_dim, res, ch = dataset.label_dim, dataset.resolution, dataset.num_channels
    G_kwargs, D_kwargs = cfg.G_kwargs(c_dim, res, ch), cfg.D_kwargs(c_dim, res, ch)
    ada_kimg, ema_ramp = cfg.ada_kimg, cfg.ramp
    if resume is not None:
        net = open_network(resume.network, device='cpu', want_training=True)
        if resume.kind == 'weights':  # fine-tune: the file decides the architecture
            if (net.G.img_resolution, net.G.img_channels) != (res, ch):
                raise StylescopeError(f'{resume.network} makes {net.G.img_resolution}x{net.G.img_resolution} images '
                                      f'with {net.G.img_channels} channel(s) but the dataset has {res}x{res} with '
                                      f'{ch}; prepare the data at that size with python main.py dataset.')
            if net.G.c_dim != c_dim:
                raise StylescopeError(f'{resume.network} takes {net.G.c_dim} label dims but the dataset gives '
                                      f'{c_dim}; match --cond to the network.')
            G_kwargs = copy.deepcopy(net.G.init_kwargs)
            if net.D is not None:
                D_kwargs = copy.deepcopy(net.D.init_kwargs)
                epilogue = D_kwargs.setdefault('epilogue_kwargs', {})
                group = min(epilogue.get('mbstd_group_size', 4) or cfg.batch_gpu, cfg.batch_gpu)
                if cfg.batch_gpu % group:  # the file's group does not split this run's batches
                    epilogue['mbstd_group_size'] = cfg.mbstd
            ada_kimg, ema_ramp = 100, None   # the official settings when resuming from a network
    G = Generator(**G_kwargs).train().requires_grad_(False).to(device)
    D = Discriminator(**D_kwargs).train().requires_grad_(False).to(device)
    G_ema = copy.deepcopy(G).eval()
    if resume is not None:
        _copy_weights(net.meta.get('G_train') or net.G, G, 'G', resume.network)
        _copy_weights(net.G, G_ema, 'G_ema', resume.network)
        if net.D is not None:
            _copy_weights(net.D, D, 'D', resume.network)
        elif writer:
            print(f'note: {resume.network} has no discriminator; D starts from random weights')
        del net
    distributed.broadcast_module(d, G)
    distributed.broadcast_module(d, D)
    distributed.broadcast_module(d, G_ema)

    augment_pipe = ada = None
    if cfg.aug != 'noaug':
        augment_pipe = make_augment_pipe(cfg.augpipe, p=cfg.p if cfg.aug == 'fixed' else 0.0).to(device)
        ada = AdaptiveAugment(augment_pipe, target=cfg.target if cfg.aug == 'ada' else None, batch=cfg.batch,
                              interval=cfg.ada_interval, ada_kimg=ada_kimg)
    loss = StyleGAN2Loss(G, D, augment_pipe=augment_pipe, ada=ada, style_mixing_prob=cfg.style_mixing,
                         r1_gamma=cfg.gamma, pl_batch_shrink=cfg.pl_batch_shrink, pl_decay=cfg.pl_decay,
                         pl_weight=cfg.pl_weight, precision=network_precision(cfg.precision))
    if writer and cfg.precision == 'bf16':
        print('precision: bf16 (G from 32x32 up and D, forward and backward; float32 weights, optimiser state and '
              'snapshots)')

    # ------------------------------------------------------------------------------------------
    # 4. Optimisers and phases: lazy regularisation scales lr and betas by r / (r + 1)
    phases, opts = [], {}
    for name, module, reg_interval, reg_on in (('G', G, cfg.G_reg_interval, cfg.pl_weight > 0),
                                               ('D', D, cfg.D_reg_interval, cfg.gamma > 0)):
        ratio = reg_interval / (reg_interval + 1)
        opts[name] = torch.optim.Adam(module.parameters(), lr=cfg.lrate * ratio, betas=(0.0, 0.99 ** ratio),
                                      eps=1e-8)
        phases.append(Phase(name + 'main', module, opts[name], 1))
        if reg_on:
            phases.append(Phase(name + 'reg', module, opts[name], reg_interval))

    # ------------------------------------------------------------------------------------------
    # 5. Counters, and the exact state of a run being continued
    cur_nimg = cur_tick = batch_idx = tick_start_nimg = data_consumed = 0
    if resume is not None and resume.kind == 'continue':
        st = snapshot.load_state(resume.state_path)
        cur_nimg, cur_tick, batch_idx = st['cur_nimg'], st['cur_tick'], st['batch_idx']
        tick_start_nimg, data_consumed = st['tick_start_nimg'], st['data_consumed']
        opts['G'].load_state_dict(st['opt_G'])
        opts['D'].load_state_dict(st['opt_D'])
        loss.load_state_dict(st['loss'])
        if augment_pipe is not None and st.get('augment') is not None:
            augment_pipe.p.copy_(st['augment']['p'])
            ada.load_state_dict(st['augment']['ada'])
        if st.get('world') == d.world:
            _set_rng_state(st['rng'][d.rank], device)
        elif writer:
            print(f"note: the run used {st.get('world')} processes, now {d.world}: random streams restart")
    else:
        torch.manual_seed(cfg.seed * d.world + d.rank)   # each process draws its own z and augmentations
    total_nimg = int(round(cfg.kimg * 1000))

    # ------------------------------------------------------------------------------------------
    # 6. Run folder: options, reals.png, fakes_init.png, TensorBoard
    grid_gen = torch.Generator().manual_seed(cfg.seed)
    grid_idx = torch.randperm(len(dataset), generator=grid_gen)[:GRID_SIZE].tolist()
    grid_z = torch.randn([len(grid_idx), G.z_dim], generator=grid_gen).to(device)
    grid_c = torch.from_numpy(np.stack([dataset.get_label(i) for i in grid_idx])).to(device)
    tb = None
    if writer:
        snapshot.remove_temp_files(run_dir)
        snapshot.trim_stats(run_dir, cur_nimg)
        if cur_nimg == 0:
            reals = np.stack([dataset[i][0].permute(1, 2, 0).numpy() for i in grid_idx])
            save_png(os.path.join(run_dir, 'reals.png'), make_grid(list(reals), cols=8))
            _save_fakes(G_ema, grid_z, grid_c, os.path.join(run_dir, 'fakes_init.png'))
        tb = _tensorboard(run_dir)

    sampler = InfiniteSampler(len(dataset), rank=d.rank, world=d.world, seed=cfg.seed, start=data_consumed)
    workers = cfg.workers if cfg.workers is not None else (3 if device.type == 'cuda' else 0)
    loader = iter(torch.utils.data.DataLoader(dataset, sampler=sampler, batch_size=cfg.batch_gpu,
                                              num_workers=workers, pin_memory=device.type == 'cuda',
                                              persistent_workers=workers > 0,
                                              generator=torch.Generator().manual_seed(cfg.seed)))
    stats = RunningStats()
    metric_cache = {}
    ticks = []
    bar = tqdm(total=total_nimg / 1000, initial=min(cur_nimg, total_nimg) / 1000, desc='train',
               disable=not (progress and writer),
               bar_format='{desc}: {percentage:3.0f}%|{bar}| {n:.3f}/{total:.3f} kimg [{elapsed}<{remaining}{postfix}]')
    tick_start_time = last_postfix = time.time()
    done = cur_nimg >= total_nimg

    # ------------------------------------------------------------------------------------------
    # 7. Training steps
    while not done:
        if is_cancelled(cancel):
            bar.close()
            raise Cancelled(f'training cancelled at kimg {cur_nimg / 1000:.3f}; resume with --resume {run_dir}')
        # 7a. This step's data: real images per round, z and labels per phase and round
        reals, real_cs = [], []
        for _ in range(rounds):
            img, c = next(loader)
            reals.append(img.to(device).to(torch.float32) / 127.5 - 1)
            real_cs.append(c.to(device))
            data_consumed += cfg.batch_gpu
        gen_z = [[torch.randn([cfg.batch_gpu, G.z_dim], device=device) for _ in range(rounds)] for _ in phases]
        gen_c = [[_random_labels(dataset, cfg.batch_gpu, device) for _ in range(rounds)] for _ in phases]

        # 7b. Phases: Gmain, Greg (every G_reg_interval), Dmain, Dreg (every D_reg_interval)
        for phase, zs, cs in zip(phases, gen_z, gen_c):
            if batch_idx % phase.interval != 0:
                continue
            phase.module.requires_grad_(True)
            phase.opt.zero_grad(set_to_none=True)
            for r in range(rounds):
                stats.add(loss.accumulate_gradients(phase.name, reals[r], real_cs[r], zs[r], cs[r],
                                                    gain=phase.interval / rounds))
            phase.module.requires_grad_(False)
            distributed.average_gradients(d, [p for p in phase.module.parameters()])
            phase.opt.step()

        # 7c. G_ema: exponential moving average of G, half-life cfg.ema kimg (ramped up early on)
        with torch.no_grad():
            ema_nimg = cfg.ema * 1000
            if ema_ramp is not None:
                ema_nimg = min(ema_nimg, cur_nimg * ema_ramp)
            beta = 0.5 ** (cfg.batch / max(ema_nimg, 1e-8))
            for p_ema, p in zip(G_ema.parameters(), G.parameters()):
                p_ema.copy_(p.detach().lerp(p_ema, beta))
            for b_ema, b in zip(G_ema.buffers(), G.buffers()):
                b_ema.copy_(b)

        # 7d. Counters and the ADA update
        cur_nimg += cfg.batch
        batch_idx += 1
        if ada is not None and batch_idx % cfg.ada_interval == 0:
            ada.update(lambda t: distributed.all_reduce_sum(d, t))
        done = cur_nimg >= total_nimg
        bar.update(min(cur_nimg, total_nimg) / 1000 - bar.n)
        if bar.disable is False and (time.time() - last_postfix > 2 or done):
            last_postfix = time.time()
            bar.set_postfix_str(_postfix(stats, augment_pipe, tick_start_time, cur_nimg - tick_start_nimg))
        if not done and cur_tick != 0 and cur_nimg < tick_start_nimg + cfg.tick * 1000:
            continue

        # --------------------------------------------------------------------------------------
        # 8. End of a tick: statistics, then (every cfg.snap ticks) grid, snapshot, metrics
        tick_time = time.time() - tick_start_time
        tick_kimg = (cur_nimg - tick_start_nimg) / 1000
        entry = {'tick': cur_tick, 'kimg': cur_nimg / 1000, 'timestamp': time.time(), 'sec/tick': tick_time,
                 'sec/kimg': tick_time / max(tick_kimg, 1e-9),
                 'Progress/augment': float(augment_pipe.p) if augment_pipe is not None else 0.0,
                 'Progress/ada_rt': ada.last_rt if ada is not None else None, **stats.means(d)}
        if device.type == 'cuda':
            entry['Resources/peak_gpu_mem_gb'] = torch.cuda.max_memory_allocated(device) / 2 ** 30
            torch.cuda.reset_peak_memory_stats(device)
        ticks.append(entry)
        if writer:
            with open(os.path.join(run_dir, 'stats.jsonl'), 'a') as f:
                f.write(json.dumps(entry) + '\n')
            if tb is not None:
                for key, value in entry.items():
                    if isinstance(value, float) and key not in ('timestamp',):
                        tb.add_scalar(key, value, global_step=int(cur_nimg / 1000), walltime=entry['timestamp'])
                tb.flush()
            bar.set_postfix_str(_postfix_from_entry(entry))
            bar.write(_tick_line(entry))
        snapshot_due = done or cur_tick % cfg.snap == 0
        cur_tick += 1
        tick_start_nimg = cur_nimg

        if snapshot_due:
            distributed.check_consistent(d, G, 'G')
            distributed.check_consistent(d, D, 'D')
            rng = distributed.gather_objects(d, _rng_state(device))
            if writer:
                _save_fakes(G_ema, grid_z, grid_c, os.path.join(run_dir, f'fakes{cur_nimg // 1000:06d}.png'))
                state = dict(cur_tick=cur_tick, batch_idx=batch_idx, tick_start_nimg=tick_start_nimg,
                             data_consumed=data_consumed, opt_G=opts['G'].state_dict(), opt_D=opts['D'].state_dict(),
                             loss=loss.state_dict(), world=d.world, rng=rng, config=cfg.to_dict(),
                             augment=None if augment_pipe is None else
                             {'p': augment_pipe.p.detach().cpu().clone(), 'ada': ada.state_dict()})
                net_path = snapshot.save_snapshot(
                    run_dir, cur_nimg, G, D, G_ema, state,
                    augment_p=float(augment_pipe.p) if augment_pipe is not None else 0.0,
                    training_set_kwargs=dataset.kwargs())
                for name in cfg.metrics:
                    _run_metric(name, G_ema, dataset, device, cfg.inception, metric_cache, run_dir, net_path,
                                cur_nimg, tb, bar)
            distributed.barrier(d)
        tick_start_time = time.time()

    bar.close()
    if tb is not None:
        tb.close()
    dataset.close()
    return dict(G=G, D=D, G_ema=G_ema, augment_p=float(augment_pipe.p) if augment_pipe is not None else 0.0,
                cur_nimg=cur_nimg, ticks=ticks, pl_mean=float(loss.pl_mean))


# ----------------------------------------------------------------------------------------------
# Helpers of the loop

def network_precision(precision):
    """TrainConfig.precision -> the networks' precision call argument (None: the official rule)."""
    return None if precision == 'auto' else precision


def _random_labels(dataset, n, device):
    if dataset.label_dim == 0:
        return torch.zeros([n, 0], device=device)
    idx = torch.randint(len(dataset), [n]).tolist()
    return torch.from_numpy(np.stack([dataset.get_label(i) for i in idx])).to(device)


@torch.no_grad()
def _save_fakes(G_ema, z, c, path):
    images = torch.cat([G_ema(zb, cb, noise_mode='const') for zb, cb in zip(z.split(8), c.split(8))])
    save_png(path, make_grid(list(to_uint8(images)), cols=8))


def _run_metric(name, G_ema, dataset, device, inception, cache, run_dir, net_path, cur_nimg, tb, bar):
    start = time.time()
    result = compute_metric(name, G_ema, dataset, device=device, inception=inception, cache=cache)
    record = dict(results=result, metric=name, total_time=time.time() - start,
                  snapshot=os.path.basename(net_path), kimg=cur_nimg / 1000, timestamp=time.time())
    with open(os.path.join(run_dir, f'metric-{name}.jsonl'), 'a') as f:
        f.write(json.dumps(record) + '\n')
    if tb is not None:
        for key, value in result.items():
            tb.add_scalar(f'Metrics/{key}', value, global_step=int(cur_nimg / 1000))
    bar.write(f'metric {name} = {result[name]:.4f} ({record["total_time"]:.1f} s)')


def _fmt(value, spec='.3f'):
    return '-' if value is None else format(value, spec)


def _postfix(stats, augment_pipe, tick_start_time, tick_nimg):
    """Short live figures from the running sums (peeks without resetting them)."""
    means = {n: float(s[0] / s[1]) for n, s in stats.sums.items() if float(s[1]) > 0}
    sec_kimg = (time.time() - tick_start_time) / max(tick_nimg / 1000, 1e-9) if tick_nimg else None
    p = float(augment_pipe.p) if augment_pipe is not None else 0.0
    return (f"sec/kimg={_fmt(sec_kimg, '.1f')} G={_fmt(means.get('Loss/G/loss'))} "
            f"D={_fmt(means.get('Loss/D/loss'))} p={p:.3f}")


def _postfix_from_entry(e):
    return (f"sec/kimg={e['sec/kimg']:.1f} G={_fmt(e.get('Loss/G/loss'))} D={_fmt(e.get('Loss/D/loss'))} "
            f"p={e['Progress/augment']:.3f}")


def _tick_line(e):
    return (f"tick {e['tick']:<4d} kimg {e['kimg']:<9.3f} sec/kimg {e['sec/kimg']:<8.1f} "
            f"G {_fmt(e.get('Loss/G/loss'))} D {_fmt(e.get('Loss/D/loss'))} "
            f"r1 {_fmt(e.get('Loss/r1_penalty'), '.4f')} pl {_fmt(e.get('Loss/pl_penalty'), '.4f')} "
            f"augment {e['Progress/augment']:.3f}")
