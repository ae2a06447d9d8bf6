"""Data-parallel training: 2 CPU processes with gloo train one tiny model; every parameter must
stay identical across the ranks (the loop also checks this itself at each snapshot)."""
import os
import socket

import numpy as np
import PIL.Image
import torch
import torch.multiprocessing as mp


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _worker(rank, world, port, data, run_dir, out_dir):
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    from train.loop import training_loop
    from train.presets import make_config
    cfg = make_config('small', 16, gpus=world, data=data, cbase=512, cmax=32, z_dim=32, map=2, batch=4, mbstd=2,
                      tick=0.008, snap=1, kimg=0.036, target=0.0, device='cpu')
    result = training_loop(cfg, run_dir, progress=False)
    torch.save({k: result[k].state_dict() for k in ('G', 'D', 'G_ema')} | {'p': result['augment_p'],
                'ticks': result['ticks']}, os.path.join(out_dir, f'rank{rank}.pt'))


def test_two_gloo_processes_keep_identical_parameters(tmp_path):
    data = tmp_path / 'data'
    data.mkdir()
    rnd = np.random.RandomState(0)
    for i in range(16):
        PIL.Image.fromarray(rnd.randint(0, 256, (16, 16, 3), dtype=np.uint8)).save(data / f'{i:02d}.png')
    run_dir = tmp_path / 'run'
    run_dir.mkdir()
    mp.spawn(_worker, args=(2, _free_port(), str(data), str(run_dir), str(tmp_path)), nprocs=2, join=True)

    r0, r1 = (torch.load(tmp_path / f'rank{r}.pt', weights_only=True) for r in (0, 1))
    for net in ('G', 'D', 'G_ema'):
        for name, t in r0[net].items():
            if name.endswith('w_avg'):
                continue  # tracked per process from its own batches, as in the official code
            assert torch.equal(t, r1[net][name]), f'{net}.{name} differs between ranks'
    assert r0['p'] == r1['p'] and r0['p'] > 0                        # ADA p from all-reduced statistics
    assert r0['ticks'][-1]['Loss/G/loss'] == r1['ticks'][-1]['Loss/G/loss']   # stats reduced over ranks
    assert r0['ticks'][-1]['kimg'] == 0.036                           # each step counts both halves of the batch
    # only rank 0 wrote: one stats line per tick, one snapshot per tick
    assert len((run_dir / 'stats.jsonl').read_text().splitlines()) == len(r0['ticks'])
    assert (run_dir / 'network-snapshot-000000.safetensors').exists()


def test_torchrun_cli_two_processes(tmp_path):
    """The documented command: torchrun --nproc_per_node 2 main.py train ... (gloo on CPU)."""
    import subprocess
    import sys
    data = tmp_path / 'data'
    data.mkdir()
    rnd = np.random.RandomState(1)
    for i in range(8):
        PIL.Image.fromarray(rnd.randint(0, 256, (16, 16, 3), dtype=np.uint8)).save(data / f'{i:02d}.png')
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '2', '--master_port', str(_free_port()),
           os.path.join(repo, 'main.py'), 'train', '--data', str(data), '--outdir', str(tmp_path / 'runs'),
           '--cfg', 'small', '--cbase', '512', '--cmax', '32', '--zdim', '32', '--batch', '4', '--mbstd-group', '2',
           '--kimg', '0.012', '--tick', '0.008', '--snap', '1', '--device', 'cpu']
    env = dict(os.environ, OMP_NUM_THREADS='1')
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    runs = os.listdir(tmp_path / 'runs')
    assert runs == ['00000-data-small']                 # one folder: only rank 0 creates it
    assert proc.stdout.count('done: 0.012 kimg') == 1   # only rank 0 reports
    assert (tmp_path / 'runs' / runs[0] / 'network-snapshot-000000.safetensors').exists()
