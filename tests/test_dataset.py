"""Training datasets: folder and zip layouts, labels, x-flips, the sampler, the `dataset`
command, and the promised one-sentence errors for bad files."""
import json
import os
import zipfile

import numpy as np
import PIL.Image
import pytest
import torch

import main
from core.errors import StylescopeError
from train.dataset import ImageDataset, InfiniteSampler


def _image(seed, size=16, mode='RGB'):
    rnd = np.random.RandomState(seed)
    shape = (size, size) if mode == 'L' else (size, size, len(mode))
    return PIL.Image.fromarray(rnd.randint(0, 256, shape, dtype=np.uint8), mode)


def make_folder(root, count=6, size=16, mode='RGB', labels=None):
    os.makedirs(os.path.join(root, '00000'), exist_ok=True)
    names = []
    for i in range(count):
        name = f'00000/img{i:08d}.png'
        _image(i, size, mode).save(os.path.join(root, name))
        names.append(name)
    if labels is not None:
        with open(os.path.join(root, 'dataset.json'), 'w') as f:
            json.dump({'labels': [[n, lab] for n, lab in zip(names, labels)]}, f)
    return str(root)


def make_zip(path, files):
    """files: {name: PIL image or bytes}."""
    with zipfile.ZipFile(path, 'w') as z:
        for name, content in files.items():
            if isinstance(content, PIL.Image.Image):
                with z.open(name, 'w') as f:
                    content.save(f, format='PNG')
            else:
                z.writestr(name, content)
    return str(path)


def test_folder_with_labels_and_xflip(tmp_path):
    root = make_folder(tmp_path / 'ds', count=4, labels=[0, 2, 1, 2])
    ds = ImageDataset(root, use_labels=True, xflip=True)
    assert (len(ds), ds.resolution, ds.num_channels, ds.label_dim) == (8, 16, 3, 3)
    img, label = ds[1]
    assert img.dtype == torch.uint8 and img.shape == (3, 16, 16)
    assert label.tolist() == [0, 0, 1]
    expected = np.asarray(_image(1)).transpose(2, 0, 1)
    assert np.array_equal(img.numpy(), expected)
    flipped, label_f = ds[4 + 1]
    assert np.array_equal(flipped.numpy(), expected[:, :, ::-1]) and label_f.tolist() == [0, 0, 1]
    assert ImageDataset(root).label_dim == 0  # labels only when asked for


def test_zip_grayscale_float_labels_and_subset(tmp_path):
    files = {f'00000/img{i:08d}.png': _image(i, 8, 'L') for i in range(5)}
    files['dataset.json'] = json.dumps({'labels': [[n, [i, 0.5]] for i, n in enumerate(files)]})
    ds = ImageDataset(make_zip(tmp_path / 'g.zip', files), use_labels=True, max_size=3, random_seed=1)
    assert (len(ds), ds.num_channels, ds.resolution, ds.label_dim) == (3, 1, 8, 2)
    assert ds[0][0].shape == (1, 8, 8)
    assert ds.get_label(0)[1] == pytest.approx(0.5)


def test_missing_label_drops_labels_and_cond_needs_them(tmp_path):
    root = make_folder(tmp_path / 'ds', count=3)
    with open(os.path.join(root, 'dataset.json'), 'w') as f:
        json.dump({'labels': [['00000/img00000000.png', 1]]}, f)
    assert not ImageDataset(root).has_labels
    with pytest.raises(StylescopeError, match='--cond'):
        ImageDataset(root, use_labels=True)


@pytest.mark.parametrize('case, pattern', [
    ('not_square', r'img00000001\.png is 16x8, not square; .*python main\.py dataset --source'),
    ('not_pow2', r'img00000001\.png is 12x12, not a power-of-two size; .*--resolution 16'),
    ('mixed_size', r'img00000001\.png is 8x8 but .*img00000000\.png is 16x16'),
    ('rgba', r"img00000001\.png has colour mode 'RGBA'.*python main\.py dataset"),
    ('garbage', r'img00000001\.png is not a readable image; .*python main\.py dataset'),
])
def test_bad_image_errors_name_the_first_bad_file(tmp_path, case, pattern):
    root = make_folder(tmp_path / 'ds', count=3)
    bad = os.path.join(root, '00000', 'img00000001.png')
    if case == 'not_square':
        PIL.Image.new('RGB', (16, 8)).save(bad)
    elif case == 'not_pow2':
        PIL.Image.new('RGB', (12, 12)).save(bad)
    elif case == 'mixed_size':
        PIL.Image.new('RGB', (8, 8)).save(bad)
    elif case == 'rgba':
        PIL.Image.new('RGBA', (16, 16)).save(bad)
    else:
        with open(bad, 'wb') as f:
            f.write(b'this is not a png')
    with pytest.raises(StylescopeError, match=pattern):
        ImageDataset(root)


def test_truncated_image_fails_on_load_with_its_name(tmp_path):
    root = make_folder(tmp_path / 'ds', count=2)
    bad = os.path.join(root, '00000', 'img00000001.png')
    data = open(bad, 'rb').read()
    with open(bad, 'wb') as f:
        f.write(data[:len(data) // 2])  # header intact, pixel data cut
    ds = ImageDataset(root)
    ds[0]
    with pytest.raises(StylescopeError, match=r'img00000001\.png is damaged and cannot be decoded'):
        ds[1]


def test_bad_containers(tmp_path):
    with pytest.raises(StylescopeError, match='does not exist'):
        ImageDataset(tmp_path / 'nope')
    (tmp_path / 'x.zip').write_bytes(b'not a zip at all')
    with pytest.raises(StylescopeError, match='neither a folder nor a zip.*python main.py dataset'):
        ImageDataset(tmp_path / 'x.zip')
    (tmp_path / 'empty').mkdir()
    with pytest.raises(StylescopeError, match='holds no images'):
        ImageDataset(tmp_path / 'empty')
    bad_zip = make_zip(tmp_path / 'bad.zip', {'00000/img00000000.png': _image(0), '00000/img00000001.png': b'junk'})
    with pytest.raises(StylescopeError, match=r'bad\.zip:00000/img00000001\.png is not a readable image'):
        ImageDataset(bad_zip)
    root = make_folder(tmp_path / 'ds', count=2)
    with open(os.path.join(root, 'dataset.json'), 'w') as f:
        f.write('{broken')
    with pytest.raises(StylescopeError, match=r"dataset\.json' is not valid JSON"):
        ImageDataset(root)


def test_infinite_sampler_splits_ranks_and_resumes():
    def take(sampler, n):
        it = iter(sampler)
        return [next(it) for _ in range(n)]
    a = take(InfiniteSampler(10, rank=0, world=2, seed=3), 5)
    b = take(InfiniteSampler(10, rank=1, world=2, seed=3), 5)
    assert sorted(a + b) == list(range(10))        # one epoch, split between the ranks
    full = take(InfiniteSampler(10, seed=3), 25)
    assert take(InfiniteSampler(10, seed=3, start=7), 18) == full[7:]
    assert sorted(full[10:20]) == list(range(10)) and full[10:20] != full[:10]


def test_dataset_command_makes_a_training_zip(tmp_path, capsys):
    src = tmp_path / 'src'
    (src / 'nested').mkdir(parents=True)
    _image(0, 40).resize((40, 30)).save(src / 'wide.jpg')
    _image(1, 20, 'L').save(src / 'nested' / 'gray.png')
    _image(2, 24, 'RGBA').save(src / 'nested' / 'rgba.png')
    (src / 'broken.png').write_bytes(b'\x89PNG garbage')
    (src / 'notes.txt').write_text('not an image')
    with open(src / 'dataset.json', 'w') as f:
        json.dump({'labels': [['wide.jpg', 0], ['nested/gray.png', 1], ['nested/rgba.png', 1], ['broken.png', 0]]}, f)
    dest = tmp_path / 'out.zip'
    assert main.main(['dataset', '--source', str(src), '--dest', str(dest), '--resolution', '16',
                      '--transform', 'center-crop']) == 0
    out = capsys.readouterr().out
    assert 'wrote 3 images' in out and 'skipped 1 unreadable file: broken.png' in out
    with zipfile.ZipFile(dest) as z:
        assert z.namelist()[0] == '00000/img00000000.png'
        assert all(i.compress_type == zipfile.ZIP_STORED for i in z.infolist())
    ds = ImageDataset(dest, use_labels=True)
    assert (len(ds), ds.resolution, ds.num_channels, ds.label_dim) == (3, 16, 3, 2)
    assert [int(ds.get_label(i).argmax()) for i in range(3)] == [1, 1, 0]   # nested/gray, nested/rgba, wide

    dest2 = tmp_path / 'two.zip'
    assert main.main(['dataset', '--source', str(dest), '--dest', str(dest2), '--resolution', '8',
                      '--max-images', '2', '--transform', 'center-crop-wide']) == 0
    assert len(ImageDataset(dest2)) == 2 and not any(p.name.endswith('.tmp') for p in tmp_path.iterdir())


def test_dataset_command_errors(tmp_path, capsys):
    assert main.main(['dataset', '--source', str(tmp_path / 'none'), '--dest', str(tmp_path / 'o.zip'),
                      '--resolution', '16']) == 2
    assert main.main(['dataset', '--source', str(tmp_path), '--dest', str(tmp_path / 'o.zip'),
                      '--resolution', '24']) == 2
    err = capsys.readouterr().err
    assert 'does not exist' in err and 'not a power of two' in err
    assert not (tmp_path / 'o.zip').exists()
