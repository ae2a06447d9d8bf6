"""Build the bundled model's files in assets/ from a training snapshot (see assets/README.md).

    python scripts/build_default_assets.py runs/00000-congress-train-4800-small/network-snapshot-000120.safetensors

Writes, each atomically:
  assets/default.safetensors          G_ema, G and D of the snapshot (fp32), with its training facts
  assets/default.directions.npz       PCA components and SeFa directions with suggested layer ranges,
                                      'colour' from the dataset's own colour rule applied to samples,
                                      and one direction per assets/labels/NAME.csv (seed,label rows)
  tests/data/default-seed*.png        reference images for tests/test_default_model.py
  docs/default-model/uncurated-psi*.png   uncurated 8x8 grids (seeds 0-63) at psi 1.0 and 0.7
"""
import argparse
import glob
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402
from tqdm import tqdm  # noqa: E402

from core import directions as dirs  # noqa: E402
from core.default_model import ASSETS_DIR, DEFAULT_MODEL_PATH  # noqa: E402
from core.images import make_grid, save_png  # noqa: E402
from core.label_file import labels_from_csv  # noqa: E402
from core.model_io import open_network, save_network  # noqa: E402
from core.render import render_seeds  # noqa: E402

ROOT = os.path.dirname(ASSETS_DIR)
DIRECTIONS_PATH = os.path.splitext(DEFAULT_MODEL_PATH)[0] + '.directions.npz'
LABELS_DIR = os.path.join(ASSETS_DIR, 'labels')
REFERENCE_SEEDS = (42, 1234)
COLOUR_SAMPLES = 4000
COLOUR_THRESHOLD = 9.0  # the dataset's rule: chroma spread above 9 counts as a colour photo


def colourfulness(images):
    """The dataset's colour measure: hypot of the standard deviations of YCbCr Cb and Cr, per image."""
    values = []
    for img in images:
        ycc = np.asarray(Image.fromarray(img).convert('YCbCr'), dtype=np.float64)
        values.append(float(np.hypot(ycc[..., 1].std(), ycc[..., 2].std())))
    return np.array(values)


def colour_direction(G, n_samples):
    """'colour': an SVM on the w of seeds 0..n-1, labelled by the dataset's colour rule."""
    seeds = list(range(n_samples))
    values = np.concatenate([colourfulness(render_seeds(G, seeds[i:i + 100]))
                             for i in tqdm(range(0, n_samples, 100), desc='colour labels', unit='x100')])
    labels = (values > COLOUR_THRESHOLD).astype(int)
    print(f'colour: {labels.mean():.1%} of {n_samples} samples are colour (dataset: 26.3%)')
    svm = dirs.SVMDirection()
    dset = svm.fit_from_seeds(G, seeds, labels, name='colour')
    print(f'colour: SVM accuracy {svm.accuracy_:.3f}')
    return dset


def labelled_directions(G, conditions):
    """One direction per assets/labels/NAME.csv, made orthogonal to `conditions` (colour)."""
    found = []
    for path in sorted(glob.glob(os.path.join(LABELS_DIR, '*.csv'))):
        name = os.path.splitext(os.path.basename(path))[0]
        seeds, labels, classes = labels_from_csv(path)
        svm = dirs.SVMDirection(orthogonal_to=conditions)
        found.append(svm.fit_from_seeds(G, seeds, labels, name=name, classes=classes))
        print(f'{name}: {len(seeds)} labels ({int(np.sum(labels))} positive), SVM accuracy {svm.accuracy_:.3f}')
    return found


def build_directions(G, D, pca_components, sefa_components):
    pca = dirs.PCADirections(n_components=pca_components, n_samples=100_000).fit(G).directions_
    sefa = dirs.SeFaDirections(n_components=sefa_components).fit(G).directions_
    colour = colour_direction(G, COLOUR_SAMPLES)
    named = labelled_directions(G, colour.vectors)
    merged = pca.merge(sefa)
    for dset in [colour] + named:
        merged = merged.merge(dset)
    with tqdm(total=len(merged), desc='layer ranges', unit='dir') as bar:
        merged = dirs.suggest_layer_ranges(G, merged, D=D, progress=lambda done, total: bar.update(1))
    with tqdm(total=len(merged), desc='slider ranges', unit='dir') as bar:
        merged = dirs.suggest_slider_limits(G, D, merged, progress=lambda done, total: bar.update(1))
    return merged


def write_pictures(G):
    for psi in (1.0, 0.7):
        grid = make_grid(list(render_seeds(G, list(range(64)), psi=psi)), cols=8)
        path = os.path.join(ROOT, 'docs', 'default-model', f'uncurated-psi{psi:.1f}.png')
        os.makedirs(os.path.dirname(path), exist_ok=True)
        save_png(path, grid, metadata=dict(seeds='0-63', psi=psi))
    for seed in REFERENCE_SEEDS:
        path = os.path.join(ROOT, 'tests', 'data', f'default-seed{seed:04d}.png')
        os.makedirs(os.path.dirname(path), exist_ok=True)
        save_png(path, render_seeds(G, [seed])[0], metadata=dict(seed=seed, psi=1.0, noise_mode='const'))


def training_facts(snapshot, meta):
    """What the shipped file says about its training: the snapshot, its kimg counted from the
    start (a run resumed from an earlier bundled file adds that file's kimg) and the data by file
    name, not by a path of the machine it was trained on."""
    kimg, before = meta.get('kimg') or 0.0, 0.0
    options_path = os.path.join(os.path.dirname(os.path.abspath(snapshot)), 'training_options.json')
    resume = json.load(open(options_path)).get('resume') if os.path.exists(options_path) else None
    if resume and os.path.isfile(resume):
        resumed = open_network(resume)
        earlier = resumed.meta.get('training') or {}
        before = earlier.get('kimg') or 0.0
        same_run = os.path.join(os.path.dirname(os.path.abspath(snapshot)), earlier.get('snapshot') or '-')
        fingerprint = resumed.meta.get('fingerprint')
        if os.path.exists(same_run) and open_network(same_run).meta.get('fingerprint') == fingerprint:
            # the resume file was since rebuilt from a snapshot of this same run: it began where that one did
            before = earlier.get('resumed_from_kimg') or 0.0
    data = dict(meta.get('training_set_kwargs') or {})
    if data.get('path'):
        data['path'] = os.path.basename(data['path'])
    return dict(snapshot=os.path.basename(snapshot), kimg=round(before + kimg, 3), run_kimg=kimg,
                resumed_from_kimg=before or None, cur_nimg=meta.get('cur_nimg'), training_set_kwargs=data)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('snapshot', help='network-snapshot-*.safetensors of the training run')
    parser.add_argument('--pca', type=int, default=12, help='PCA components kept (default: 12)')
    parser.add_argument('--sefa', type=int, default=6, help='SeFa directions kept (default: 6)')
    args = parser.parse_args()
    torch.set_grad_enabled(False)

    net = open_network(args.snapshot, want_training=True)
    G, D, meta = net.G, net.D, net.meta
    assert D is not None and meta.get('G_train') is not None, f'{args.snapshot} lacks D or G: give a training snapshot'
    training = training_facts(args.snapshot, meta)
    save_network(DEFAULT_MODEL_PATH, G, D=D, G=meta['G_train'], extra_meta=dict(augment_p=meta.get('augment_p'),
                                                                                 training=training))
    print(f'wrote {DEFAULT_MODEL_PATH} ({os.path.getsize(DEFAULT_MODEL_PATH) / 2 ** 20:.1f} MiB)')
    dset = build_directions(G, D, args.pca, args.sefa)
    dset.save(DIRECTIONS_PATH)
    print(f'wrote {DIRECTIONS_PATH}: {", ".join(dset.names)}')
    write_pictures(G)
    print('wrote the uncurated grids in docs/default-model/ and the reference images in tests/data/')


if __name__ == '__main__':
    main()
