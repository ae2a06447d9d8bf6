"""Run folders and snapshots: what a training run writes, and how a run is picked up again.

A snapshot is a pair written atomically (temporary name, fsync, rename), the network last:
  training-state-NNNNNN.pt             optimiser states, counters, per-process RNG states,
                                       ADA and path-length state (torch.save; loaded weights_only)
  network-snapshot-NNNNNN.safetensors  G_ema, G, D via core.model_io.save_network, with
                                       augment_p, training_set_kwargs, kimg and cur_nimg metadata
NNNNNN is the kimg reached. A snapshot counts only when both files exist and agree on cur_nimg,
so a process killed at any moment leaves the newest complete snapshot to resume from. Ticks
shorter than 1 kimg reuse a number; then the new state goes to `training-state-NNNNNN.pt.new`
first, the network replaces the old one, and only then the state takes the final name, so at every
instant one of the two state files matches the network file on disk.
"""
from __future__ import annotations

import json
import os
import re

import safetensors
import torch

from core.atomic import atomic_path, atomic_write
from core.errors import StylescopeError
from core.model_io import save_network
from core.safe_pickle import check_loaded

NETWORK_NAME = 'network-snapshot-{:06d}.safetensors'
STATE_NAME = 'training-state-{:06d}.pt'
STATE_FORMAT = 'stylescope-training-state'
_NETWORK_RE = re.compile(r'^network-snapshot-(\d+)\.safetensors$')
_RUN_RE = re.compile(r'^(\d+)-')


def save_snapshot(run_dir, cur_nimg, G, D, G_ema, state, augment_p, training_set_kwargs):
    """Write the pair for cur_nimg; returns the network path."""
    number = cur_nimg // 1000
    state = dict(state, format=STATE_FORMAT, version=1, cur_nimg=cur_nimg)
    state_path = os.path.join(run_dir, STATE_NAME.format(number))
    atomic_write(state_path + '.new', lambda f: torch.save(state, f))  # a file object: open() errors are OSErrors
    net_path = os.path.join(run_dir, NETWORK_NAME.format(number))
    save_network(net_path, G_ema, D=D, G=G, extra_meta=dict(
        augment_p=augment_p, training_set_kwargs=training_set_kwargs, kimg=cur_nimg / 1000, cur_nimg=cur_nimg))
    os.replace(state_path + '.new', state_path)
    return net_path


def network_nimg(path):
    try:
        with safetensors.safe_open(path, framework='pt') as f:
            return int(json.loads((f.metadata() or {}).get('cur_nimg', 'null')))
    except Exception:  # unreadable or foreign file: not a complete snapshot
        return None


def load_state(path):
    """The training-state dict, loaded without unpickling code (torch weights_only)."""
    try:
        state = check_loaded(torch.load(path, map_location='cpu', weights_only=True), path)
    except StylescopeError:
        raise
    except Exception as e:
        raise StylescopeError(f'{path} cannot be read as a Stylescope training state ({type(e).__name__}); resume '
                              f'from an older snapshot or start a new run.') from None
    if not isinstance(state, dict) or state.get('format') != STATE_FORMAT or not isinstance(state.get('config'), dict):
        raise StylescopeError(f'{path} is not a Stylescope training state; resume from a run folder or a '
                              f'network-snapshot-*.safetensors written by this trainer.')
    return state


def complete_pair(net_path):
    """(state path, state) of the training state that matches this network snapshot, or None.
    A matching `.new` state (the write was cut short before its final rename) is renamed into place."""
    m = _NETWORK_RE.match(os.path.basename(net_path))
    nimg = network_nimg(net_path) if m else None
    if nimg is None:
        return None
    state_path = os.path.join(os.path.dirname(os.path.abspath(net_path)), STATE_NAME.format(int(m.group(1))))
    for candidate in (state_path, state_path + '.new'):
        if not os.path.isfile(candidate):
            continue
        try:
            state = load_state(candidate)
        except StylescopeError:
            continue
        if state.get('cur_nimg') == nimg:
            if candidate != state_path:
                os.replace(candidate, state_path)
            return state_path, state
    return None


def load_complete(run_dir):
    """Newest complete snapshot of run_dir -> (network path, state path, state), or None."""
    networks = []
    for entry in os.scandir(run_dir):
        m = _NETWORK_RE.match(entry.name)
        if m:
            networks.append((int(m.group(1)), entry.path))
    for _number, net_path in sorted(networks, reverse=True):
        pair = complete_pair(net_path)
        if pair is not None:
            return (net_path,) + pair
    return None


def run_folders(outdir):
    """Run folders of outdir ('NNNNN-...'), newest (highest number) first."""
    if not os.path.isdir(outdir):
        return []
    runs = [(int(m.group(1)), e.path) for e in os.scandir(outdir) if e.is_dir() and (m := _RUN_RE.match(e.name))]
    return [path for _, path in sorted(runs, reverse=True)]


def latest_run(outdir):
    """The newest run folder in outdir that has a complete snapshot -> (run_dir, network path, state path,
    state)."""
    for run_dir in run_folders(outdir):
        found = load_complete(run_dir)
        if found:
            return (run_dir,) + found
    raise StylescopeError(f'--resume latest found no run folder with a complete snapshot in {outdir}; give --outdir '
                          f'the folder your runs are in, or --resume a run folder or network file.')


def new_run_dir(outdir, desc):
    """outdir/NNNNN-desc with the next free number, created."""
    try:
        os.makedirs(outdir, exist_ok=True)
        used = [int(m.group(1)) for name in os.listdir(outdir) if (m := _RUN_RE.match(name))]
        run_dir = os.path.join(outdir, f'{max(used, default=-1) + 1:05d}-{desc}')
        os.makedirs(run_dir)
    except OSError as e:
        raise StylescopeError(f'cannot create a run folder in --outdir {outdir} ({e.strerror or e}); choose another '
                              'folder.') from None
    return run_dir


def remove_temp_files(run_dir):
    """Delete what an interrupted write left behind: '.name.xxxxxxxx.tmp' temporaries and
    'training-state-NNNNNN.pt.new' states whose network never arrived (call after load_complete)."""
    for entry in os.scandir(run_dir):
        stale_tmp = entry.name.startswith('.') and entry.name.endswith('.tmp')
        stale_new = entry.name.startswith('training-state-') and entry.name.endswith('.pt.new')
        if (stale_tmp or stale_new) and entry.is_file():
            os.remove(entry.path)


def trim_stats(run_dir, cur_nimg, name='stats.jsonl'):
    """Keep only the stats lines up to cur_nimg (a resumed run writes the rest again); drops a
    line cut short by a kill."""
    path = os.path.join(run_dir, name)
    if not os.path.isfile(path):
        return
    keep = []
    with open(path) as f:
        for line in f:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get('kimg', 0) * 1000 <= cur_nimg + 0.5:
                keep.append(json.dumps(entry) + '\n')

    with atomic_path(path) as tmp, open(tmp, 'w') as f:
        f.writelines(keep)
