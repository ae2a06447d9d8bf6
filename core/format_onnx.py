"""ONNX export of a generator: z (+ class, psi) -> image, or ws -> image; const noise baked in.

An export-only format: the graph holds the weights as constants but not the architecture in a
form Stylescope could rebuild, so it is never opened as a network. Facts about exporting
StyleGAN forwards (which exporter, which ops, why the batch is fixed):
shared/reference/checkpoint-formats.md, section (d).

The graph is traced with torch's dynamo exporter at a fixed batch size (`batch`, default 1):
the per-sample modulated convolutions fix the batch in the traced shapes, so a graph for
batch 8 is a second export. The noise maps are the network's const buffers (noise_mode='const'),
so ONNX Runtime draws the image `G(z, c, psi, noise_mode='const')` draws. Truncation is
`w_avg.lerp(w, psi)` on the ws rows below `truncation_cutoff` (all rows by default), exactly as
G.mapping computes it, and skipped when psi == 1. The model's metadata records the weights'
fingerprint, so files made from the export's source still match it.

Needs the optional `onnx` extra (onnx, onnxscript; onnxruntime to run the graph).
"""
from __future__ import annotations

import contextlib
import copy
import io
import json
import logging
import warnings

import torch

from core.atomic import atomic_path
from core.errors import StylescopeError
from core.json_ready import json_ready
from core.network_parts import GENERATORS

FORMAT = 'onnx'
META_PREFIX = 'stylescope.'
MAX_PROTO_BYTES = 2 ** 31 - 2 ** 24  # protobuf's 2 GB limit, less room for the graph itself
INPUTS = ('z', 'ws')


class _FromZ(torch.nn.Module):
    """z [N, z_dim] (, c [N, c_dim]), psi [] -> img [N, C, H, W]."""

    def __init__(self, G, truncation_cutoff):
        super().__init__()
        self.G = G
        self.cutoff = truncation_cutoff

    def forward(self, z, c, psi):
        ws = self.G.mapping(z, c)
        rows = ws if self.cutoff is None else ws[:, :self.cutoff]
        w_avg = self.G.mapping.w_avg
        # torch.lerp's two formulas (chosen by t < 0.5), so the graph matches G.mapping's lerp.
        low = w_avg + psi * (rows - w_avg)
        high = rows - (rows - w_avg) * (1 - psi)
        truncated = torch.where(psi < 0.5, low, high)
        truncated = torch.where(psi == 1, rows, truncated)
        if self.cutoff is not None:
            truncated = torch.cat([truncated, ws[:, self.cutoff:]], dim=1)
        return self.G.synthesis(truncated, noise_mode='const', force_fp32=True)


class _FromWs(torch.nn.Module):
    """ws [N, num_ws, w_dim] -> img [N, C, H, W]."""

    def __init__(self, G):
        super().__init__()
        self.G = G

    def forward(self, ws):
        return self.G.synthesis(ws, noise_mode='const', force_fp32=True)


class _WithoutClass(torch.nn.Module):
    """_FromZ for an unconditional G: the graph takes no class input."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, z, psi):
        return self.inner(z, None, psi)


def _require_onnx():
    try:
        import onnx  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError:
        raise StylescopeError("ONNX export needs the onnx packages; install them with pip install "
                              "'stylescope[onnx]' (onnx, onnxscript, onnxruntime).") from None


def export_onnx(path, G, input='z', batch=1, truncation_cutoff=None, extra=None) -> dict:
    """Write G as an ONNX graph at `path`, atomically. input='z': inputs z [batch, z_dim],
    c [batch, c_dim] (conditional G only) and psi (float scalar); input='ws': ws [batch,
    num_ws, w_dim]. Output img [batch, C, H, W], float in about [-1, 1]. Returns a summary
    {'inputs', 'outputs', 'batch', 'fingerprint'}."""
    from core.model_io import fingerprint  # model_io imports this module
    if not isinstance(G, tuple(GENERATORS.values())):
        raise TypeError('export_onnx takes a core.networks or core.networks_stylegan3 Generator')
    if input not in INPUTS:
        raise ValueError(f'input must be one of {INPUTS}, got {input!r}')
    if not (isinstance(batch, int) and batch >= 1):
        raise ValueError(f'batch must be a positive int, got {batch!r}')
    _require_onnx()
    import onnx
    G = copy.deepcopy(G).to('cpu', torch.float32).eval().requires_grad_(False)
    if input == 'z':
        z = torch.zeros([batch, G.z_dim])
        psi = torch.tensor(1.0)
        if G.c_dim:
            module, args, names = _FromZ(G, truncation_cutoff), (z, torch.zeros([batch, G.c_dim]), psi), ['z', 'c', 'psi']
        else:
            module, args, names = _WithoutClass(_FromZ(G, truncation_cutoff)), (z, psi), ['z', 'psi']
    else:
        module, args, names = _FromWs(G), (torch.zeros([batch, G.num_ws, G.w_dim]),), ['ws']
    size = sum(t.numel() * t.element_size() for t in G.state_dict().values())
    if size > MAX_PROTO_BYTES:
        raise StylescopeError(f'{path}: this generator ({size / 2 ** 30:.1f} GiB of weights) is too big for one ONNX '
                              f'file; export a smaller model.')
    meta = {'format_version': '1', 'fingerprint': fingerprint(G), 'input': input, 'batch': str(batch),
            'noise_mode': 'const', 'truncation_cutoff': json.dumps(truncation_cutoff),
            'G_kwargs': json.dumps(json_ready(G.init_kwargs)),
            'image': 'NCHW float, about [-1, 1]; uint8 = clamp(img * 127.5 + 128, 0, 255)'}
    meta.update({key: json.dumps(json_ready(value)) for key, value in (extra or {}).items()})
    log = io.StringIO()
    exporter_log = logging.getLogger('torch.onnx')
    level = exporter_log.level
    exporter_log.setLevel(logging.ERROR)  # its progress lines and notes on optional packages
    try:
        with atomic_path(path) as tmp:
            with torch.no_grad(), contextlib.redirect_stdout(log), contextlib.redirect_stderr(log), \
                    warnings.catch_warnings():
                warnings.simplefilter('ignore')  # the exporter's notes about its own internals
                torch.onnx.export(module.eval(), args, tmp, dynamo=True, input_names=names, output_names=['img'],
                                  external_data=False, verbose=False)
            model = onnx.load(tmp)
            for key, value in meta.items():
                entry = model.metadata_props.add()
                entry.key, entry.value = META_PREFIX + key, value
            onnx.save(model, tmp)
    except OSError as e:
        raise StylescopeError(f'could not write {path} ({e.strerror or e}); check the folder exists, is '
                              f'writable and has free space.') from None
    except StylescopeError:  # atomic_path's sentence for a file that could not be put in place
        raise
    except Exception as e:  # the exporter's own errors: a bug here, not bad input
        raise RuntimeError(f'ONNX export of {path} failed: {e}\n{log.getvalue()[-2000:]}') from e
    finally:
        exporter_log.setLevel(level)
    return dict(inputs=names, outputs=['img'], batch=batch, fingerprint=meta['fingerprint'])


def read_metadata(path) -> dict:
    """The stylescope.* metadata of an exported graph (without the prefix)."""
    _require_onnx()
    import onnx
    model = onnx.load(path, load_external_data=False)
    return {p.key[len(META_PREFIX):]: p.value for p in model.metadata_props if p.key.startswith(META_PREFIX)}
