"""Small core helpers: uint8 conversion, PNG writing, grids, devices, the default network."""
import os
import threading

import numpy as np
import PIL.Image
import pytest
import torch

from core.default_model import open_default_network, random_generator
from core.device import resolve_device
from core.errors import StylescopeError
from core.images import make_grid, save_png, to_uint8


def test_to_uint8_follows_the_official_formula():
    img = torch.tensor([-1.5, -1.0, 0.0, 0.999, 1.0, 2.0]).reshape(1, 1, 2, 3).repeat(1, 3, 1, 1)
    out = to_uint8(img)
    assert out.shape == (1, 2, 3, 3) and out.dtype == np.uint8
    assert out[0, :, :, 0].ravel().tolist() == [0, 0, 128, 255, 255, 255]


def test_save_png_is_atomic_and_keeps_metadata(tmp_path):
    array = np.random.RandomState(0).randint(0, 256, [8, 12, 3]).astype(np.uint8)
    path = tmp_path / 'a.png'
    save_png(path, array, {'seed': 7})
    assert os.listdir(tmp_path) == ['a.png']
    with PIL.Image.open(path) as im:
        np.testing.assert_array_equal(np.asarray(im), array)
        assert im.text['seed'] == '7'
    save_png(tmp_path / 'g.png', array[:, :, :1])
    assert PIL.Image.open(tmp_path / 'g.png').mode == 'L'


def test_make_grid_tiles_row_by_row():
    tiles = [np.full([2, 2, 3], v, np.uint8) for v in (10, 20, 30)]
    grid = make_grid(tiles)
    assert grid.shape == (4, 4, 3)
    assert grid[0, 0, 0] == 10 and grid[0, 2, 0] == 20 and grid[2, 0, 0] == 30 and grid[2, 2, 0] == 0
    assert make_grid(tiles, cols=3).shape == (2, 6, 3)


def test_resolve_device():
    assert resolve_device('cpu') == torch.device('cpu')
    assert resolve_device('auto').type == ('cuda' if torch.cuda.is_available() else 'cpu')
    if not torch.cuda.is_available():
        with pytest.raises(StylescopeError, match="device 'cuda'"):
            resolve_device('cuda')
    with pytest.raises(StylescopeError, match='unknown device'):
        resolve_device('tpu')


def test_random_default_network_is_deterministic():
    net = open_default_network('cpu')
    if not net.meta.get('random_init'):
        pytest.skip('a trained default model is bundled')
    G = net.G
    assert (G.img_resolution, G.z_dim, G.w_dim, G.mapping.num_layers) == (64, 128, 128, 2)
    state = torch.get_rng_state()
    again = random_generator()
    assert torch.equal(torch.get_rng_state(), state)  # the global RNG is left alone
    for a, b in zip(G.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)



def _resident_bytes():
    import os
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')


def test_keep_freed_memory_keeps_big_blocks_on_glibc():
    import platform
    from core.allocator import keep_freed_memory
    applied = keep_freed_memory()
    if platform.system() != 'Linux' or platform.libc_ver()[0] != 'glibc':
        assert applied is False
        return
    assert applied is True
    # a freed 256 MiB tensor stays in the process (glibc would unmap it) for the next one to reuse,
    # also when a thread other than the main one allocated it (a render worker)
    def allocate_and_free(dropped):
        big = torch.ones(64 * 2 ** 20)
        before_free = _resident_bytes()
        del big
        dropped.append(before_free - _resident_bytes())

    dropped = []
    allocate_and_free(dropped)
    worker = threading.Thread(target=allocate_and_free, args=(dropped,))
    worker.start()
    worker.join()
    assert all(d < 32 * 2 ** 20 for d in dropped), dropped
