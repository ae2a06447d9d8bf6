"""rosinality stylegan2-pytorch checkpoints: read as rosinality's model.py computes, refused when hostile."""
import argparse
import datetime

import numpy as np
import pytest
import torch

from core.errors import StylescopeError
from core.format_rosinality import W_AVG_SAMPLES, W_AVG_SEED
from core.model_io import fingerprint, open_network
from tests import reference_rosinality as ros
from tests.format_helpers import assert_one_sentence, grey_diff, seeds_z, system_payload

SIZE, STYLE_DIM, N_MLP = 16, 16, 2
CHANNELS = {4: 32, 8: 32, 16: 16}  # small stand-in for rosinality's fixed table


def states(seed=0, size=SIZE, style_dim=STYLE_DIM, n_mlp=N_MLP, channels=CHANNELS, multiplier=2):
    g = ros.random_state(ros.generator_shapes(size, style_dim, n_mlp, multiplier, channels), seed)
    return g, ros.random_state(ros.discriminator_shapes(size, multiplier, channels), seed + 1)


def train_checkpoint(seed=0, **kw):
    """What rosinality's train.py saves: g, d, g_ema, both Adam states, args, ada_aug_p."""
    g_ema, d = states(seed)
    g, _ = states(seed + 10)
    adam = {'state': {0: {'step': torch.tensor(5.0), 'exp_avg': torch.zeros(3), 'exp_avg_sq': torch.zeros(3)}},
            'param_groups': [{'lr': 0.002, 'betas': (0.0, 0.99), 'params': [0]}]}
    args = argparse.Namespace(size=SIZE, latent=STYLE_DIM, n_mlp=N_MLP, channel_multiplier=2, arch='stylegan2',
                              iter=800000, batch=16, r1=10, augment=True, **kw)
    return dict(g=g, d=d, g_ema=g_ema, g_optim=adam, d_optim=adam, args=args, ada_aug_p=0.3)


def double(state):
    return {k: v.double() for k, v in state.items()}


def test_train_checkpoint_draws_what_rosinality_draws(tmp_path):
    ckpt = train_checkpoint()
    path = tmp_path / '080000.pt'
    torch.save(ckpt, path)
    net = open_network(path, want_training=True)
    meta = net.meta
    assert meta['format'] == 'rosinality-pt' and meta['holds'] == ['G_ema', 'G', 'D']
    assert meta['ignored'] == ['g_optim', 'd_optim'] and meta['contents'].endswith('optimiser state ignored')
    assert meta['rosinality_args'] == dict(size=16, style_dim=16, n_mlp=2, channel_multiplier=2, lr_mlp=0.01,
                                           arch='stylegan2')
    assert meta['augment_p'] == 0.3 and 'RandomState(0)' in meta['w_avg_source']
    z = seeds_z([0, 1, 2, 42], STYLE_DIM)
    with torch.no_grad():
        for G, key in ((net.G, 'g_ema'), (meta['G_train'], 'g')):
            ours = G(z.float(), None, noise_mode='const').double()
            ref = ros.generator(double(ckpt[key]), z, size=SIZE, n_mlp=N_MLP)
            assert (ours - ref).abs().max() < 1e-4 and grey_diff(ours, ref)[0] <= 1
        # psi < 1: rosinality's truncation toward truncation_latent is ours toward w_avg
        ours = net.G(z.float(), None, truncation_psi=0.6, noise_mode='const').double()
        ref = ros.generator(double(ckpt['g_ema']), z, size=SIZE, n_mlp=N_MLP, truncation=0.6,
                            truncation_latent=net.G.mapping.w_avg.double())
        assert (ours - ref).abs().max() < 1e-4
        img = torch.randn([8, 3, SIZE, SIZE], generator=torch.Generator().manual_seed(3), dtype=torch.float64)
        logits = net.D(img.float(), None).double()
    assert (logits - ros.discriminator(double(ckpt['d']), img, size=SIZE)).abs().max() < 1e-4


def test_w_avg_is_a_fixed_float64_mean_and_latent_avg_wins(tmp_path):
    ckpt = train_checkpoint()
    path = tmp_path / 'a.pt'
    torch.save(ckpt, path)
    z = torch.from_numpy(np.random.RandomState(W_AVG_SEED).randn(W_AVG_SAMPLES, STYLE_DIM))
    expected = ros.mapping(double(ckpt['g_ema']), z, N_MLP).mean(dim=0).float()
    G = open_network(path).G
    assert (G.mapping.w_avg - expected).abs().max() <= 1e-6
    assert fingerprint(open_network(path).G) == fingerprint(G)  # same bits on every load
    # convert_weight.py's files store latent_avg (TF's dlatent_avg): it is used as it is
    latent_avg = torch.randn(STYLE_DIM)
    converted = tmp_path / 'stylegan2-ffhq-config-f.pt'
    torch.save({'g_ema': ckpt['g_ema'], 'latent_avg': latent_avg}, converted)
    net = open_network(converted, want_D=True)
    assert torch.equal(net.G.mapping.w_avg, latent_avg) and net.D is None
    assert net.meta['holds'] == ['G_ema'] and net.meta['contents'] == 'G_ema only'
    assert net.meta['w_avg_source'] == 'latent_avg stored in the file' and net.meta['ignored'] == []


def test_rosinality_channel_table_bare_state_dict_and_legacy_format(tmp_path):
    # rosinality's own table (512 channels up to 32x32), saved the pre-zip way, as a bare g_ema state dict
    g_ema, _ = states(seed=4, size=8, style_dim=8, channels=None, multiplier=1)
    path = tmp_path / 'g_ema.pth'
    torch.save(g_ema, path, _use_new_zipfile_serialization=False)
    net = open_network(path)
    assert net.meta['rosinality_args']['size'] == 8 and net.meta['G_kwargs']['synthesis_kwargs']['channel_max'] == 512
    z = seeds_z([7, 8], 8)
    with torch.no_grad():
        ours = net.G(z.float(), None, noise_mode='const').double()
    ref = ros.generator(double(g_ema), z, size=8, n_mlp=N_MLP)
    assert (ours - ref).abs().max() < 1e-4


@pytest.mark.parametrize('legacy', [False, True])
def test_hostile_checkpoint_refused_before_running(tmp_path, legacy):
    marker = tmp_path / 'pwned'
    ckpt = train_checkpoint()
    ckpt['args'] = system_payload(marker)  # data.pkl calls os.system
    path = tmp_path / 'evil.pt'
    torch.save(ckpt, path, _use_new_zipfile_serialization=not legacy)
    with pytest.raises(StylescopeError, match='refused to load a torch checkpoint') as excinfo:
        open_network(path)
    assert_one_sentence(excinfo, path)
    assert not marker.exists()


def test_only_namespace_is_allowed_beyond_tensors(tmp_path):
    ckpt = train_checkpoint()
    ckpt['args'] = datetime.date(2021, 1, 1)  # harmless, but not on the allow-list
    path = tmp_path / 'other.pt'
    torch.save(ckpt, path)
    with pytest.raises(StylescopeError, match="references 'datetime.date'") as excinfo:
        open_network(path)
    assert_one_sentence(excinfo, path)


@pytest.mark.parametrize('case,pattern', [
    ('factor', 'closed-form factorisation'),
    ('projection', 'projection result'),
    ('swagan', 'SWAGAN'),
    ('missing', "lacks the tensor 'convs.1.conv.weight'"),
    ('other', 'without the g_ema generator'),
    ('damaged', 'truncated or corrupt'),
])
def test_other_torch_files_are_refused_with_a_reason(tmp_path, case, pattern):
    g_ema, _ = states()
    path = tmp_path / f'{case}.pt'
    if case == 'factor':
        torch.save({'ckpt': '550000.pt', 'eigvec': torch.randn(16, 16)}, path)
    elif case == 'projection':
        torch.save({'img': torch.zeros(3), 'latent': torch.zeros(16), 'noise': [torch.zeros(4)]}, path)
    elif case == 'swagan':
        g_ema['to_rgb1.bias'] = torch.zeros(1, 12, 1, 1)
        torch.save({'g_ema': g_ema}, path)
    elif case == 'missing':
        del g_ema['convs.1.conv.weight']
        torch.save({'g_ema': g_ema}, path)
    elif case == 'other':
        torch.save({'model': {'fc.weight': torch.zeros(2, 2)}}, path)
    else:
        torch.save({'g_ema': g_ema}, path)
        data = path.read_bytes()
        path.write_bytes(data[:len(data) // 2])
    with pytest.raises(StylescopeError, match=pattern) as excinfo:
        open_network(path)
    assert_one_sentence(excinfo, path)
