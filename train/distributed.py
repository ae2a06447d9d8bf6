"""Data-parallel training across processes started by torchrun (NCCL on CUDA, gloo on CPU).

Every process holds full copies of G, D and G_ema; each trains on its share of the batch, and
after every backward the gradients are averaged across processes (one all-reduce of all of a
network's gradients, flattened), so the optimiser steps, and therefore the weights, stay
identical. Rank 0 alone loads nothing special, but is the only one that writes files; at start
its weights are broadcast to the others, and at every snapshot `check_consistent` verifies that
all ranks still agree. A single process (no WORLD_SIZE, or 1) runs with no process group.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from core.device import resolve_device
from core.errors import StylescopeError


@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    device: torch.device = torch.device('cpu')
    owns_group: bool = False    # this call created the process group (and shuts it down)

    @property
    def is_main(self):
        return self.rank == 0

    @property
    def active(self):
        return self.world > 1


def init(device_name='auto') -> Dist:
    """Read torchrun's environment (RANK, WORLD_SIZE, LOCAL_RANK) and join the process group."""
    world = int(os.environ.get('WORLD_SIZE', '1'))
    device = resolve_device(device_name)
    if world <= 1:
        return Dist(0, 1, device, False)
    rank = int(os.environ.get('RANK', '0'))
    local_rank = int(os.environ.get('LOCAL_RANK', str(rank)))
    if device.type == 'cuda':
        if local_rank >= torch.cuda.device_count():
            raise StylescopeError(f'process {local_rank} has no GPU of its own ({torch.cuda.device_count()} found); '
                                  f'start at most that many processes with torchrun --nproc_per_node.')
        device = torch.device('cuda', local_rank)
        torch.cuda.set_device(device)
    owns = False
    if not dist.is_initialized():
        dist.init_process_group(backend='nccl' if device.type == 'cuda' else 'gloo')
        owns = True
    return Dist(dist.get_rank(), dist.get_world_size(), device, owns)


def shutdown(d: Dist):
    if d.owns_group and dist.is_initialized():
        dist.destroy_process_group()


def _tensors(module, with_buffers):
    items = list(module.parameters())
    if with_buffers:
        items += list(module.buffers())
    return items


def broadcast_module(d: Dist, module, with_buffers=True):
    """Copy rank 0's parameters (and buffers) into every other rank."""
    if not d.active:
        return
    with torch.no_grad():
        for t in _tensors(module, with_buffers):
            dist.broadcast(t.data, src=0)


def average_gradients(d: Dist, params):
    """Average .grad over ranks (missing grads count as zeros); also replaces NaN/Inf, as the
    official loop does, so one bad batch cannot poison the weights."""
    params = [p for p in params]
    if not params:
        return
    for p in params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
    if d.active:
        flat = torch.cat([p.grad.flatten() for p in params])
        dist.all_reduce(flat)
        flat /= d.world
        torch.nan_to_num(flat, nan=0, posinf=1e5, neginf=-1e5, out=flat)
        offset = 0
        for p in params:
            p.grad.copy_(flat[offset:offset + p.numel()].view_as(p))
            offset += p.numel()
    else:
        for p in params:
            torch.nan_to_num(p.grad, nan=0, posinf=1e5, neginf=-1e5, out=p.grad)


def all_reduce_sum(d: Dist, tensor):
    if d.active:
        dist.all_reduce(tensor)
    return tensor


def broadcast_object(d: Dist, obj):
    """Rank 0's Python object on every rank."""
    if not d.active:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather_objects(d: Dist, obj):
    """[obj of rank 0, obj of rank 1, ...] on every rank."""
    if not d.active:
        return [obj]
    out = [None] * d.world
    dist.all_gather_object(out, obj)
    return out


def barrier(d: Dist):
    if d.active:
        dist.barrier()


def check_consistent(d: Dist, module, name, skip=('w_avg',)):
    """Raise if any parameter or buffer differs from rank 0's (w_avg is per-rank, as officially)."""
    if not d.active:
        return
    named = [(k, t.detach()) for k, t in list(module.named_parameters()) + list(module.named_buffers())
             if k.split('.')[-1] not in skip]
    mine = torch.cat([t.flatten().float() for _, t in named])
    ref = mine.clone()
    dist.broadcast(ref, src=0)
    if torch.equal(ref, mine):
        return
    offset = 0
    for key, t in named:
        part = slice(offset, offset + t.numel())
        offset += t.numel()
        if not torch.equal(ref[part], mine[part]):
            raise RuntimeError(f'rank {d.rank}: {name}.{key} differs from rank 0 (max diff '
                               f'{(ref[part] - mine[part]).abs().max().item():.3g}); data-parallel training went '
                               f'out of sync')
