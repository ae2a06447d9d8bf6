"""One network as a reader finds it in a file, and how it becomes a checked module.

Every reader (core.format_official, core.format_tf, core.format_rosinality, the native
.safetensors reader in core.model_io) turns its file into NetParts: our constructor kwargs and
{official parameter / buffer name: tensor}. `build` makes the module from them after checking
every name, shape and dtype against the architecture the kwargs describe, so a reader never has
to trust a file's own idea of its shapes.

Nor its numbers: kwargs are checked against generous bounds before anything is built, even on
the meta device (where a claimed million mapping layers are still a million Python modules),
the claimed resolution and mapping depth against the blocks and layers the tensors have, and
the tensors themselves for NaN and infinity, which is what a diverged training run saves.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from core import networks, networks_stylegan3
from core.errors import StylescopeError, short_reason
from core.net_limits import check_claims

# The generator families Stylescope builds, by the name files record (the native file's
# `architecture` metadata; pickles are recognised by their records).
GENERATORS = {'stylegan2': networks.Generator, 'stylegan3': networks_stylegan3.Generator}


@dataclass
class NetParts:
    """One network as found in a file: constructor kwargs, {name: tensor}, and for a generator
    its family (a key of GENERATORS)."""
    kwargs: dict
    tensors: dict
    architecture: str = 'stylegan2'


def architecture_of(G) -> str:
    """'stylegan3' or 'stylegan2': the GENERATORS key of a generator module."""
    return 'stylegan3' if networks_stylegan3.is_stylegan3(G) else 'stylegan2'


def build_generator(parts, key, path):
    """The generator of its family (parts.architecture), built as `build` builds."""
    cls = GENERATORS.get(parts.architecture)
    if cls is None:
        raise StylescopeError(f"{path}: its {key} is a '{parts.architecture}' network, which this Stylescope does "
                              f"not know ({' and '.join(GENERATORS)} open); update Stylescope.")
    return build(cls, parts, key, path)


def to_float32(t):
    return t.float() if t.is_floating_point() and t.dtype != torch.float32 else t


def build(cls, parts, key, path):
    """cls(**kwargs) holding the file's tensors; eval, no grad, on CPU. Built on the meta
    device first, so no memory is allocated or randomly filled before the file's tensors
    are checked against the architecture its kwargs describe."""
    try:
        check_claims(parts.kwargs)
        _check_depth_claims(cls, parts.kwargs, parts.tensors)
        with torch.device('meta'):
            net = cls(**parts.kwargs)
    except (TypeError, ValueError, AssertionError, KeyError, ZeroDivisionError, RuntimeError, IndexError) as e:
        raise StylescopeError(f'{path}: its {key} was built with arguments Stylescope cannot rebuild '
                              f'({short_reason(e)}); only StyleGAN2-ADA and StyleGAN3 networks open.') from None
    check_tensors(net.state_dict(), parts.tensors, key, path)
    check_finite(parts.tensors, key, path)
    net.load_state_dict(parts.tensors, strict=True, assign=True)
    if _has_meta_tensors(net):  # a tensor the file does not hold (say, a non-persistent buffer)
        net = cls(**parts.kwargs)
        net.load_state_dict(parts.tensors, strict=True)
    return net.eval().requires_grad_(False)


def expected_shapes(cls, kwargs):
    """{name: shape} of cls(**kwargs).state_dict(), without allocating it (readers use it to
    know which tensors to look up in a foreign file). Kwargs past the bounds: ValueError."""
    check_claims(kwargs)
    with torch.device('meta'):
        net = cls(**kwargs)
    return {name: tuple(t.shape) for name, t in net.state_dict().items()}


def _check_depth_claims(cls, kwargs, tensors):
    """The claimed resolution and mapping depth against the tensors' official names (b<res>.,
    mapping.fc<i>.), so a file that claims more than it holds is refused by name, before a
    module is made. Only for the StyleGAN2 classes, whose names these are."""
    if cls.__module__ != 'core.networks' or cls.__name__ not in ('Generator', 'Discriminator'):
        return
    prefix = 'synthesis.' if cls.__name__ == 'Generator' else ''
    res = kwargs.get('img_resolution')
    if isinstance(res, int) and not any(name.startswith(f'{prefix}b{res}.') for name in tensors):
        raise ValueError(f'img_resolution {res} claims a {res} px block the tensors do not have')
    layers = (kwargs.get('mapping_kwargs') or {}).get('num_layers')
    if isinstance(layers, int) and layers > 0 and any(name.startswith('mapping.') for name in tensors) \
            and f'mapping.fc{layers - 1}.weight' not in tensors:
        raise ValueError(f'mapping num_layers {layers} claims mapping layers the tensors do not have')


def check_finite(tensors, key, path):
    """Refuse NaN or infinite weights, naming the first such tensor: a network that holds them
    draws black or noise, and a training run that diverged saves exactly this."""
    for name, t in tensors.items():
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            raise StylescopeError(f'{path}: its {key} tensor {name} holds NaN or infinite values (a training run that '
                                  'diverged saves such snapshots): use an earlier snapshot or get the file again.')


def check_tensors(expected, found, key, path):
    missing = [k for k in expected if k not in found]
    unexpected = [k for k in found if k not in expected]
    if missing or unexpected:
        detail = f'missing {missing[:3]}' if missing else f'unexpected {unexpected[:3]}'
        raise StylescopeError(f'{path}: its {key} tensors do not match its architecture ({detail}); the file is '
                              f'not a StyleGAN2-ADA or StyleGAN3 network, or is damaged.')
    for name, ref in expected.items():
        t = found[name]
        if tuple(t.shape) != tuple(ref.shape) or t.dtype != ref.dtype:
            raise StylescopeError(f'{path}: its {key} tensor {name} is {str(t.dtype)[6:]} {list(t.shape)}, expected '
                                  f'{str(ref.dtype)[6:]} {list(ref.shape)}; the file is damaged or not a '
                                  f'StyleGAN2-ADA or StyleGAN3 network.')


def _has_meta_tensors(net):
    for module in net.modules():
        tensors = list(module._parameters.values()) + list(module._buffers.values()) + list(vars(module).values())
        if any(isinstance(t, torch.Tensor) and t.is_meta for t in tensors):
            return True
    return False
