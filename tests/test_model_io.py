"""core.model_io: official pickles (restricted reader), Stylescope .safetensors, run folders."""
import errno
import json
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
import safetensors
import safetensors.torch
import torch

from core import model_io, network_parts, safe_pickle
from core.errors import StylescopeError
from core.model_io import fingerprint, network_summary, open_network, save_network
from core.ws_rows import layer_groups
from core.networks import Discriminator, Generator
from tests.official_pickle import (dump_official, official_snapshot, with_stylegan3_input, write_official_pickle,
                                   write_tf_pickle)

torch.set_num_threads(1)


def make_G(c_dim=0, resolution=16, architecture='skip', use_noise=True, seed=0):
    torch.manual_seed(seed)
    G = Generator(z_dim=16, c_dim=c_dim, w_dim=16, img_resolution=resolution, img_channels=3,
                  mapping_kwargs=dict(num_layers=2),
                  synthesis_kwargs=dict(channel_base=256, channel_max=32, architecture=architecture,
                                        use_noise=use_noise, conv_clamp=256))
    with torch.no_grad():  # non-trivial buffers, so a buffer mix-up cannot go unnoticed
        G.mapping.w_avg.normal_()
        for name, p in G.named_parameters():
            if name.endswith('noise_strength'):
                p.fill_(0.1)
    return G.eval()


def make_D(c_dim=0, resolution=16, architecture='resnet', seed=1):
    torch.manual_seed(seed)
    return Discriminator(c_dim=c_dim, img_resolution=resolution, img_channels=3, architecture=architecture,
                         channel_base=256, channel_max=32, mapping_kwargs=dict(num_layers=2),
                         epilogue_kwargs=dict(mbstd_group_size=2)).eval()


@pytest.fixture(scope='module')
def nets():
    return dict(G_ema=make_G(seed=0), G=make_G(seed=2), D=make_D())


def assert_same_tensors(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for name in sa:
        assert sa[name].dtype == sb[name].dtype and torch.equal(sa[name], sb[name]), name


def render(G):
    z = torch.from_numpy(np.random.RandomState(7).randn(2, G.z_dim)).float()
    c = torch.eye(max(G.c_dim, 1))[:2, :G.c_dim] if G.c_dim else torch.zeros([2, 0])
    with torch.no_grad():
        return G(z, c, noise_mode='const')


def assert_one_sentence(excinfo, name):
    message = str(excinfo.value)
    assert str(name) in message, message
    assert '\n' not in message and message.endswith('.'), message


# ----------------------------------------------------------------------------------------------
# Official pickles

@pytest.mark.parametrize('protocol,torch1_style', [(2, False), (3, False), (4, False), (5, False), (3, True),
                                                   (2, True)])
def test_official_pickle_loads_bit_exact(tmp_path, nets, protocol, torch1_style):
    path = tmp_path / 'network-snapshot-000120.pkl'
    write_official_pickle(path, nets['G_ema'], D=nets['D'], G=nets['G'], augment_p=0.25, protocol=protocol,
                          torch1_style=torch1_style)
    net = open_network(path, want_training=True)
    assert_same_tensors(net.G, nets['G_ema'])
    assert_same_tensors(net.meta['G_train'], nets['G'])
    assert_same_tensors(net.D, nets['D'])
    assert torch.equal(render(net.G), render(nets['G_ema']))
    assert not net.G.training and not any(p.requires_grad for p in net.G.parameters())
    meta = net.meta
    assert meta['format'] == 'official-pkl' and meta['source'] == os.path.abspath(path)
    assert (meta['resolution'], meta['z_dim'], meta['w_dim'], meta['c_dim'], meta['num_ws'],
            meta['img_channels']) == (16, 16, 16, 0, 6, 3)
    assert meta['G_kwargs'] == json.loads(json.dumps(nets['G_ema'].init_kwargs))
    assert meta['D_kwargs']['architecture'] == 'resnet'
    assert meta['augment_p'] == 0.25
    assert meta['training_set_kwargs']['resolution'] == 16
    assert meta['fingerprint'] == fingerprint(nets['G_ema'])


def test_loading_imports_nothing_from_the_file(tmp_path, nets):
    path = tmp_path / 'net.pkl'
    write_official_pickle(path, nets['G_ema'], D=nets['D'], G=nets['G'])
    open_network(path, want_training=True)
    assert not any(name.split('.')[0] in ('dnnlib', 'torch_utils', 'training') or '_imported_module' in name
                   for name in sys.modules)


@pytest.mark.parametrize('c_dim,architecture,use_noise,d_architecture', [
    (3, 'skip', True, 'resnet'), (0, 'resnet', True, 'skip'), (0, 'orig', True, 'orig'), (2, 'skip', False, 'skip')])
def test_official_pickle_variants(tmp_path, c_dim, architecture, use_noise, d_architecture):
    G = make_G(c_dim=c_dim, architecture=architecture, use_noise=use_noise)
    D = make_D(c_dim=c_dim, architecture=d_architecture)
    path = tmp_path / 'net.pkl'
    write_official_pickle(path, G, D=D, G=G, protocol=4)
    net = open_network(path, want_D=True)
    assert_same_tensors(net.G, G)
    assert_same_tensors(net.D, D)
    assert net.meta['c_dim'] == c_dim and 'G_train' not in net.meta
    assert torch.equal(render(net.G), render(G))
    if not use_noise:
        assert not any('noise' in name for name in net.G.state_dict())


def test_pickle_without_D_G_or_augment_pipe(tmp_path, nets):
    path = tmp_path / 'net.pkl'
    write_official_pickle(path, nets['G_ema'], augment_p=None)
    net = open_network(path, want_training=True)
    assert net.D is None and 'G_train' not in net.meta
    assert net.meta['augment_p'] is None and net.meta['D_kwargs'] is None


def test_unknown_constructor_argument_is_refused(tmp_path, nets):
    kwargs = dict(nets['G_ema'].init_kwargs, synthesis_kwargs=dict(channel_base=256, channel_max=32, warp=3))
    path = tmp_path / 'odd.pkl'
    write_official_pickle(path, nets['G_ema'], init_kwargs={'G_ema': kwargs})
    with pytest.raises(StylescopeError, match='warp') as excinfo:
        open_network(path)
    assert_one_sentence(excinfo, path)


def test_giant_architecture_is_refused_without_allocating(tmp_path, nets):
    # kwargs describing a huge network must fail on the bounds of what a file may claim, before
    # anything is built, not on memory.
    kwargs = dict(nets['G_ema'].init_kwargs, synthesis_kwargs=dict(channel_base=2 ** 40, channel_max=2 ** 20))
    path = tmp_path / 'huge.pkl'
    write_official_pickle(path, nets['G_ema'], init_kwargs={'G_ema': kwargs})
    with pytest.raises(StylescopeError, match='channel_base 1,099,511,627,776 is more than') as excinfo:
        open_network(path)
    assert_one_sentence(excinfo, path)


def test_build_falls_back_when_the_file_lacks_a_tensor():
    class Net(torch.nn.Module):  # a non-persistent buffer is never in a file
        def __init__(self, n):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(n))
            self.register_buffer('lut', torch.arange(n).float(), persistent=False)
    net = network_parts.build(Net, network_parts.NetParts({'n': 3}, {'w': torch.ones(3)}), 'G_ema', 'x.pkl')
    assert torch.equal(net.w, torch.ones(3)) and torch.equal(net.lut, torch.arange(3).float())


def test_stylegan3_repo_stylegan2_flat_kwargs(tmp_path, nets):
    # The stylegan3 repo's StyleGAN2 generator records its synthesis arguments flat.
    source = nets['G_ema'].init_kwargs
    flat = {k: v for k, v in source.items() if k != 'synthesis_kwargs'}
    flat.update(source['synthesis_kwargs'], fused_modconv_default='inference_only')
    path = tmp_path / 'sg3-stylegan2.pkl'
    write_official_pickle(path, nets['G_ema'], init_kwargs={'G_ema': flat}, protocol=4)
    net = open_network(path)
    assert_same_tensors(net.G, nets['G_ema'])
    assert 'fused_modconv_default' not in net.meta['G_kwargs']['synthesis_kwargs']


# ----------------------------------------------------------------------------------------------
# Hostile and broken pickles

def payloads(marker):
    command = f'touch {marker}'
    return {
        'os.system': (os.system, (command,)),
        'eval': (eval, (f'open({str(marker)!r}, "w").close()',)),
        'builtins.exec': (exec, (f'open({str(marker)!r}, "w").close()',)),
        'subprocess.call': (subprocess.call, (['touch', str(marker)],)),
    }


class Payload:
    def __init__(self, reduce_value):
        self.reduce_value = reduce_value

    def __reduce__(self):
        return self.reduce_value


@pytest.mark.parametrize('kind', ['os.system', 'eval', 'builtins.exec', 'subprocess.call'])
@pytest.mark.parametrize('where', ['after_networks', 'first', 'bare'])
def test_malicious_pickle_refused_before_running(tmp_path, nets, kind, where):
    marker = tmp_path / 'pwned'
    payload = Payload(payloads(marker)[kind])
    path = tmp_path / 'network.pkl'
    if where == 'bare':
        with open(path, 'wb') as f:
            pickle.dump(payload, f)
    else:
        snapshot = official_snapshot(nets['G_ema'], D=nets['D'])
        if where == 'first':
            snapshot['training_set_kwargs'] = {'path': payload}
        else:
            snapshot['zz_extra'] = payload
        dump_official(snapshot, path, protocol=4)
    with pytest.raises(StylescopeError, match='refused to unpickle') as excinfo:
        open_network(path)
    assert_one_sentence(excinfo, path)
    assert not marker.exists()
    if where == 'bare' and os.name == 'posix':  # control: the stock unpickler does run the payload
        with open(path, 'rb') as f:
            pickle.load(f)
        assert marker.exists()


def test_malicious_storage_blob_refused(tmp_path, nets):
    marker = tmp_path / 'pwned'
    blob = pickle.dumps(Payload(payloads(marker)['os.system']))
    evil_storage = Payload((torch.storage._load_from_bytes, (blob,)))
    snapshot = official_snapshot(nets['G_ema'])
    snapshot['zz_extra'] = evil_storage
    path = tmp_path / 'network.pkl'
    dump_official(snapshot, path, protocol=4)
    with pytest.raises(StylescopeError, match='refused') as excinfo:
        open_network(path)
    assert_one_sentence(excinfo, path)
    assert not marker.exists()


def test_embedded_module_source_never_runs(tmp_path, nets):
    marker = tmp_path / 'pwned'
    source = f'import pathlib\npathlib.Path({str(marker)!r}).touch()\n'
    path = tmp_path / 'network.pkl'
    write_official_pickle(path, nets['G_ema'], D=nets['D'], module_src=source)
    net = open_network(path, want_D=True)
    assert_same_tensors(net.G, nets['G_ema'])
    assert not marker.exists()


def test_tensorflow_pickle_refused(tmp_path):
    path = tmp_path / 'stylegan2-ffhq-config-f.pkl'
    write_tf_pickle(path)
    with pytest.raises(StylescopeError, match='TensorFlow StyleGAN/StyleGAN2 pickle.*legacy.py') as excinfo:
        open_network(path)
    assert_one_sentence(excinfo, path)


def test_stylegan2_generator_with_a_stylegan3_layer_refused(tmp_path, nets):
    # A StyleGAN3 input layer inside StyleGAN2 arguments: neither network; one sentence.
    path = tmp_path / 'stylegan3-t.pkl'
    write_official_pickle(path, with_stylegan3_input(nets['G_ema']), protocol=4)
    with pytest.raises(StylescopeError, match='StyleGAN3') as excinfo:
        open_network(path)
    assert_one_sentence(excinfo, path)


@pytest.mark.parametrize('damage', ['truncated', 'empty', 'random', 'zip'])
def test_damaged_pickle(tmp_path, nets, damage):
    good = tmp_path / 'good.pkl'
    write_official_pickle(good, nets['G_ema'])
    data = good.read_bytes()
    path = tmp_path / 'network.pkl'
    path.write_bytes({'truncated': data[:len(data) // 2], 'empty': b'',
                      'random': np.random.RandomState(0).bytes(4096), 'zip': b'PK\x03\x04' + data[:100]}[damage])
    with pytest.raises(StylescopeError) as excinfo:
        open_network(path)
    assert_one_sentence(excinfo, path)
    if damage in ('truncated', 'empty'):
        assert 'truncated or corrupt' in str(excinfo.value)


def test_bad_paths(tmp_path):
    for path, pattern in [(tmp_path / 'missing.pkl', 'does not exist'),
                          (tmp_path / 'model.pt', 'unknown network file type')]:
        if 'model' in path.name:
            path.write_bytes(b'x')
        with pytest.raises(StylescopeError, match=pattern) as excinfo:
            open_network(path)
        assert_one_sentence(excinfo, path)
    folder = tmp_path / 'run'
    folder.mkdir()
    (folder / 'fakes000000.png').write_bytes(b'')
    with pytest.raises(StylescopeError, match='no network-snapshot') as excinfo:
        open_network(folder)
    assert_one_sentence(excinfo, folder)


@pytest.mark.parametrize('protocol', [2, 4, 5])
def test_numpy_values_in_pickles(tmp_path, protocol):
    # StyleGAN3 and TensorFlow pickles hold numpy arrays; object arrays are refused.
    path = tmp_path / 'arrays.pkl'
    values = {'a': np.arange(6, dtype=np.float32).reshape(2, 3), 's': np.float64(0.5), 'set': {1, 2}}
    with open(path, 'wb') as f:
        pickle.dump(values, f, protocol=protocol)
    loaded = safe_pickle.load_pickle(path, 'arrays.pkl')
    assert np.array_equal(loaded['a'], values['a']) and loaded['s'] == 0.5 and loaded['set'] == {1, 2}
    with open(path, 'wb') as f:
        pickle.dump(np.array([1, None], dtype=object), f, protocol=protocol)
    with pytest.raises(StylescopeError, match='arrays.pkl'):
        safe_pickle.load_pickle(path, 'arrays.pkl')


def test_not_a_network_pickle(tmp_path):
    path = tmp_path / 'data.pkl'
    with open(path, 'wb') as f:
        pickle.dump({'weights': [1.0, 2.0]}, f)
    with pytest.raises(StylescopeError, match='no G_ema') as excinfo:
        open_network(path)
    assert_one_sentence(excinfo, path)


# ----------------------------------------------------------------------------------------------
# Stylescope .safetensors and run folders

def test_safetensors_round_trip_exact(tmp_path, nets):
    path = tmp_path / 'net.safetensors'
    save_network(path, nets['G_ema'], D=nets['D'], G=nets['G'],
                 extra_meta=dict(augment_p=0.125, training_set_kwargs={'path': 'x.zip'}, kimg=40))
    net = open_network(path, want_training=True)
    assert_same_tensors(net.G, nets['G_ema'])
    assert_same_tensors(net.D, nets['D'])
    assert_same_tensors(net.meta['G_train'], nets['G'])
    meta = net.meta
    assert meta['format'] == 'safetensors' and meta['fingerprint'] == fingerprint(nets['G_ema'])
    assert meta['augment_p'] == 0.125 and meta['training_set_kwargs'] == {'path': 'x.zip'} and meta['kimg'] == 40
    assert meta['G_kwargs']['synthesis_kwargs']['channel_max'] == 32
    with safetensors.safe_open(path, framework='pt') as f:
        header = f.metadata()
    assert header['format'] == 'stylescope-network' and header['format_version'] == '1'
    assert header['fingerprint'] == fingerprint(nets['G_ema'])
    umask = os.umask(0o022)
    os.umask(umask)
    if os.name == 'posix':  # not the 0600 safetensors itself would leave
        assert os.stat(path).st_mode & 0o777 == 0o666 & ~umask
    # official pickle -> safetensors keeps every bit too
    pkl = tmp_path / 'net.pkl'
    write_official_pickle(pkl, nets['G_ema'])
    save_network(tmp_path / 'again.safetensors', open_network(pkl).G)
    assert open_network(tmp_path / 'again.safetensors').meta['fingerprint'] == fingerprint(nets['G_ema'])


def test_fp16_safetensors_loads_as_float32(tmp_path, nets):
    full = tmp_path / 'full.safetensors'
    save_network(full, nets['G_ema'])
    with safetensors.safe_open(full, framework='pt') as f:
        header = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    half = tmp_path / 'half.safetensors'
    safetensors.torch.save_file({k: v.half() for k, v in tensors.items()}, half, metadata=header)
    net = open_network(half)
    for name, value in net.G.state_dict().items():
        assert value.dtype == torch.float32
        assert torch.equal(value, tensors[f'G_ema.{name}'].half().float()), name


def test_foreign_and_damaged_safetensors(tmp_path, nets):
    foreign = tmp_path / 'sd.safetensors'
    safetensors.torch.save_file({'w': torch.zeros(2)}, foreign)
    with pytest.raises(StylescopeError, match='not a Stylescope network') as excinfo:
        open_network(foreign)
    assert_one_sentence(excinfo, foreign)
    good = tmp_path / 'good.safetensors'
    save_network(good, nets['G_ema'])
    cut = tmp_path / 'cut.safetensors'
    cut.write_bytes(good.read_bytes()[:-100])
    with pytest.raises(StylescopeError, match='truncated or corrupt') as excinfo:
        open_network(cut)
    assert_one_sentence(excinfo, cut)


@pytest.mark.parametrize('failure', [OSError(errno.ENOSPC, 'No space left on device'), RuntimeError('boom')])
def test_atomic_write_keeps_previous_file(tmp_path, nets, monkeypatch, failure):
    dest = tmp_path / 'net.safetensors'
    save_network(dest, nets['G_ema'])
    before = dest.read_bytes()

    def fail_midway(tensors, filename, metadata=None):
        with open(filename, 'wb') as f:
            f.write(b'half a network')
        raise failure
    monkeypatch.setattr(safetensors.torch, 'save_file', fail_midway)
    with pytest.raises((StylescopeError, RuntimeError)) as excinfo:
        save_network(dest, nets['G'])
    if isinstance(failure, OSError):
        assert excinfo.type is StylescopeError and 'No space left' in str(excinfo.value)
    assert dest.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ['net.safetensors']


def test_run_folder_opens_newest_snapshot(tmp_path, nets):
    run = tmp_path / '00003-faces'
    run.mkdir()
    G_old, G_new = make_G(seed=10), make_G(seed=11)
    write_official_pickle(run / 'network-snapshot-000100.pkl', G_old)
    write_official_pickle(run / 'network-snapshot-000200.pkl', G_old)
    save_network(run / 'network-snapshot-000200.safetensors', G_new)
    save_network(run / 'network-snapshot-000040.safetensors', G_old)
    (run / 'network-snapshot-000999.txt').write_text('not a snapshot')
    net = open_network(run)
    assert net.meta['format'] == 'run-folder' and net.meta['run_folder'] == os.path.abspath(run)
    assert net.meta['source'].endswith('network-snapshot-000200.safetensors')
    assert net.meta['fingerprint'] == fingerprint(G_new)
    write_official_pickle(run / 'network-snapshot-000300.pkl', G_old)
    assert open_network(run).meta['source'].endswith('network-snapshot-000300.pkl')


def test_save_refuses_other_extensions(tmp_path, nets):
    with pytest.raises(StylescopeError, match='safetensors'):
        save_network(tmp_path / 'net.pkl', nets['G_ema'])


# ----------------------------------------------------------------------------------------------
# Fingerprint, layer groups, summary

def test_fingerprint(tmp_path, nets):
    fp = fingerprint(nets['G_ema'])
    assert len(fp) == 16 and int(fp, 16) >= 0
    assert fingerprint(make_G(seed=0)) == fp
    assert fingerprint(nets['G']) != fp
    tweaked = make_G(seed=0)
    with torch.no_grad():
        tweaked.synthesis.b16.torgb.bias[0] += 1e-6
    assert fingerprint(tweaked) != fp
    path = tmp_path / 'net.safetensors'
    save_network(path, nets['G_ema'])
    assert fingerprint(open_network(path).G) == fp


def test_layer_groups():
    assert layer_groups(1024) == {'coarse': (0, 4), 'middle': (4, 8), 'fine': (8, 18)}
    assert layer_groups(256) == {'coarse': (0, 4), 'middle': (4, 8), 'fine': (8, 14)}
    assert layer_groups(64) == {'coarse': (0, 4), 'middle': (4, 8), 'fine': (8, 10)}
    assert layer_groups(32) == {'coarse': (0, 4), 'middle': (4, 8), 'fine': (8, 8)}
    assert layer_groups(18) == layer_groups(1024) and layer_groups(14) == layer_groups(256)
    assert layer_groups(num_ws=16) == {'coarse': (0, 4), 'middle': (4, 8), 'fine': (8, 16)}
    assert layer_groups(resolution=16) == {'coarse': (0, 4), 'middle': (4, 6), 'fine': (6, 6)}
    assert layer_groups(make_G(resolution=8)) == {'coarse': (0, 4), 'middle': (4, 4), 'fine': (4, 4)}
    with pytest.raises(ValueError, match='ambiguous'):
        layer_groups(16)


def test_network_summary(nets):
    summary = network_summary(nets['G_ema'])
    assert (summary['resolution'], summary['num_ws'], summary['z_dim'], summary['w_dim']) == (16, 6, 16, 16)
    assert summary['layer_groups'] == layer_groups(resolution=16)
    assert [b['name'] for b in summary['blocks']] == ['b4', 'b8', 'b16']
    assert summary['blocks'][1]['ws'] == (1, 4)
    assert summary['params']['total'] == sum(p.numel() for p in nets['G_ema'].parameters())
    assert summary['params']['mapping'] + summary['params']['synthesis'] == summary['params']['total']


def test_json_ready_copies_official_kwargs_and_refuses_objects():
    from core.json_ready import json_ready

    class EasyDict(dict):
        pass

    raw = EasyDict(channel_base=np.int64(16384), resample_filter=(1, 3, 3, 1), w_avg=np.zeros(2, np.float32),
                   mapping_kwargs=EasyDict(num_layers=8), lr=np.float32(0.5), name=None)
    ready = json_ready(raw)
    assert type(ready) is dict and type(ready['mapping_kwargs']) is dict
    assert ready == dict(channel_base=16384, resample_filter=[1, 3, 3, 1], w_avg=[0.0, 0.0],
                         mapping_kwargs=dict(num_layers=8), lr=0.5, name=None)
    assert json.loads(json.dumps(ready)) == ready
    with pytest.raises(ValueError, match='cannot store a object as JSON'):
        json_ready({'x': object()})


def test_a_text_file_named_pkl_and_a_pickle_of_something_else_say_what_they_are(tmp_path):
    text = tmp_path / 'notes.pkl'
    text.write_text('these are my notes, not a network')
    with pytest.raises(StylescopeError, match='is not a network pickle') as excinfo:
        open_network(text)
    assert 'download' not in str(excinfo.value) and 'corrupt' not in str(excinfo.value)
    other = tmp_path / 'other.pkl'
    other.write_bytes(pickle.dumps({'a': [1, 2, 3]}))
    with pytest.raises(StylescopeError, match='not of a StyleGAN network') as excinfo:
        open_network(other)
    assert 'safetensors' in str(excinfo.value)
