"""The explorer's background work: each job is a plain function `job(ctx, **params)` that the
render thread runs (explorer.worker). `ctx` gives the open network and renderer, reports
progress (and with it lets pending renders through and stops on cancel), and hands partial
results back. Jobs call core functions; none of them imports torch itself.
"""
import math
import os
import time
import warnings

import numpy as np

from core import direction_files
from core import directions as core_directions
from core import model_io
from core import projection as core_projection
from core import pti as core_pti
from core import quiz as core_quiz
from core.align import prepare_target
from core.default_model import open_network_or_default
from core.device import resolve_device
from core.atomic import atomic_write
from core.errors import Cancelled, StylescopeError
from core.images import save_png
from core.latent import class_vector, load_ws_file
from core.noise import noise_layers
from core.noise_spec import NoiseMaps
from core import stylespace as core_stylespace
from core.layer_capture import synthesis_layers
from core.precision import bf16_is_faster
from core import render as core_render
from core.networks_stylegan3 import is_stylegan3
from core.request import Latent
from core.ws_rows import layer_groups
from core.video import (VideoOptions, check_output, export_video, interpolation_requests, sweep_requests)
from core.image_dataset import ImageFolder  # the quiz's real faces, read as training reads them

DESCRIPTIONS = {
    'open_network': 'opening the network',
    'pca': 'computing PCA directions',
    'sefa': 'computing SeFa directions',
    'import_directions': 'importing directions',
    'slider_limits': 'measuring slider ranges',
    'export_directions': 'exporting directions',
    'render_batch': 'rendering samples',
    'fit_labels': 'fitting the labelled direction',
    'save_image': 'saving the image',
    'save_ws': 'saving w',
    'load_ws': 'loading w',
    'video': 'exporting the video',
    'project': 'projecting a photo',
    'quiz_images': 'preparing the quiz',
    'style_stats': 'measuring the style channels',
    'style_channels': 'making StyleSpace sliders',
    'rank_style_channels': 'ranking the style channels',
}
PROJECTION_DEFAULTS = core_projection.ProjectionOptions()  # the CLI's defaults: 1000 steps, seed 303
PTI_DEFAULTS = core_pti.PTIOptions()  # 350 tuning steps at lr 3e-4, as the paper


def projection_stages(space, num_steps, pti_steps=PTI_DEFAULTS.num_steps):
    """[('w', n)], [('w', n), ('w+', m)] or [('w', n), ('pti', k)]: the stages `project` runs
    (core.projection's schedule; pti: the W pivot, then the tuning)."""
    if space == 'pti':
        return [('w', int(num_steps)), ('pti', int(pti_steps))]
    return core_projection.ProjectionOptions(num_steps=int(num_steps), space=space).stage_steps


PREVIEW_INTERVAL = 0.2  # seconds between projection previews: at most ~5 images a second reach the GUI


def make_renderer(net):
    return core_render.make_renderer(net.G)


def network_info(net, device):
    """What the GUI needs to know about a network (plain Python values)."""
    G, meta = net.G, net.meta
    source = str(meta.get('source') or 'network')
    name = 'random network' if meta.get('random_init') else os.path.basename(source.rstrip('/\\'))
    stylegan3 = is_stylegan3(G)
    if stylegan3:  # a "block" per ws row: the input and each layer (no preview: every frame is whole)
        block_facts = [dict(resolution=int(row['sampling_rate']), ws_start=row['ws'], ws_count=1,
                            cost=row['size'] ** 2 * row['channels'] ** 2, name=row['name'])
                       for row in G.synthesis.layer_info()]
        can_preview = False
    else:
        blocks = G.synthesis.blocks()
        block_facts = [dict(resolution=block.resolution, ws_start=start, ws_count=count,
                            cost=block.resolution ** 2 * block.out_channels * (block.in_channels + block.out_channels))
                       for block, (start, count) in zip(blocks, G.synthesis.block_ws_ranges())]
        can_preview = all(block.architecture == 'skip' for block in blocks)
    return dict(blocks=block_facts, name=name, source=source, format=meta.get('format'), resolution=G.img_resolution,
                device=str(device), random_init=bool(meta.get('random_init')), c_dim=G.c_dim, z_dim=G.z_dim,
                img_channels=G.img_channels, kind='stylegan3' if stylegan3 else 'stylegan2',
                w_dim=G.w_dim, num_ws=G.num_ws, fingerprint=meta.get('fingerprint'),
                noise_layers=noise_layers(G), layer_groups=layer_groups(G), can_preview=can_preview,
                layers=synthesis_layers(G), style_layers=core_stylespace.style_layer_table(G),
                bf16_faster=bf16_is_faster(device),  # measured once, here on the render thread
                **dict(zip(('tuned_from', 'source_network'), core_pti.pti_source(meta))))


# --- network ---------------------------------------------------------------------------------------

def open_network(ctx, path=None, device='auto'):
    """Open a network (None: the default one) and the direction file beside it, if any: the
    info's 'directions' (a DirectionSet or None) and 'directions_warnings' carry it."""
    device = resolve_device(device)
    net = open_network_or_default(path, device)
    ctx.progress(1, 2)
    ctx.install(net, device)
    info = network_info(net, device)
    info['directions'], info['directions_warnings'] = _companion_directions(net)
    return info


def _companion_directions(net):
    """(DirectionSet or None, [warning sentences]) of the file beside the network; a broken one
    becomes a warning, never a failed open."""
    path = direction_files.companion_path(net.meta['source']) if os.path.exists(net.meta['source']) else None
    if path is None:
        return None, []
    try:
        return _open_directions(path, net.G)
    except StylescopeError as e:
        return None, [f'the direction file beside the network was not loaded: {e}']


def _open_directions(path, G):
    """core.directions.open_directions, its warnings (another model's file...) collected as
    sentences: (DirectionSet, [warning sentences])."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        dset = direction_files.open_directions(path, G)
    return dset, [str(w.message) for w in caught]


# --- directions ------------------------------------------------------------------------------------

def pca(ctx, n_samples=20000, n_components=20):
    finder = core_directions.PCADirections(n_components=n_components, n_samples=n_samples)
    return finder.fit(ctx.G, progress=ctx.progress, cancel=ctx.cancel).directions_


def sefa(ctx, start=0, end=None, n_components=20, unit_samples=core_directions.UNIT_SAMPLES):
    G = ctx.G
    ctx.progress(0, 2)
    finder = core_directions.SeFaDirections(layers=(start, G.num_ws if end is None else end),
                                            n_components=n_components, unit_samples=unit_samples)
    dset = finder.fit(G).directions_
    ctx.progress(2, 2)
    return dset


def slider_limits(ctx, dset):
    """{name: slider range} of each direction, measured with the network's discriminator
    (core.directions.suggest_slider_limits; read from the file on first use, as the projection's)."""
    D, notes = _discriminator(ctx)
    if D is None:
        raise StylescopeError(' '.join(notes) or 'this network file has no discriminator, which measures the '
                              'ranges: open a training snapshot, or keep the default of ±3')
    measured = core_directions.suggest_slider_limits(ctx.G, D, dset, progress=ctx.progress)
    return {name: measured.limit_of(k) for k, name in enumerate(measured.names)}


def import_directions(ctx, path):
    """-> (DirectionSet, [warning sentences])."""
    return _open_directions(path, ctx.G)


def export_directions(ctx, dset, path, fmt='stylescope', index=0):
    """fmt: 'stylescope' (.npz), 'ganspace' (.npz), 'rosinality' (factor .pt), 'interfacegan' (.npy,
    direction `index`)."""
    path = os.fspath(path)
    if fmt == 'interfacegan':
        direction_files.export_interfacegan(dset, index, path)
    elif fmt == 'ganspace':
        direction_files.export_ganspace(dset, path)
    elif fmt == 'rosinality':
        direction_files.export_rosinality(dset, path)
    else:
        dset.save(path)
    return path


# --- rendering batches and labels ------------------------------------------------------------------

def render_batch(ctx, requests, tag=None):
    """Render each request; partial results are (tag, index, image). Returns the images."""
    images = []
    for i, request in enumerate(requests):
        image = ctx.renderer.render(request).image
        images.append(image)
        ctx.partial((tag, i, image))
        ctx.progress(i + 1, len(requests))
    return images


def fit_labels(ctx, requests, labels, name='attribute', orthogonal_to=None, layers=None):
    """InterfaceGAN from the GUI: the exact ws of each labelled sample's request, 0/1 labels ->
    a one-direction DirectionSet (optionally orthogonal to the given vectors [M, w_dim])."""
    labels = np.asarray(labels)
    if len(labels) != len(requests):
        raise StylescopeError(f'{len(labels)} labels for {len(requests)} samples: label each sample once')
    ws = []
    for i, request in enumerate(requests):
        ws.append(ctx.renderer.ws_array(request))
        ctx.progress(i + 1, len(requests) + 1)
    conditions = None if orthogonal_to is None or len(orthogonal_to) == 0 else np.asarray(orthogonal_to)
    dset = core_directions.direction_from_labels(ctx.G, np.stack(ws), labels, name=name,
                                                 orthogonal_to=conditions, layers=layers)
    ctx.progress(len(requests) + 1, len(requests) + 1)
    return dset


# --- StyleSpace channels ---------------------------------------------------------------------------

def _style_stats(ctx, n_samples):
    """core.stylespace.StyleStats of the open network over n_samples samples, computed once."""
    key = ('style_stats', int(n_samples))
    if key not in ctx.cache:
        ctx.cache[key] = core_stylespace.style_statistics(ctx.G, int(n_samples), progress=ctx.progress,
                                                          cancel=ctx.cancel)
    return ctx.cache[key]


def style_stats(ctx, n_samples=core_stylespace.STATS_SAMPLES):
    """Measure (or find kept) every style channel's mean and std; returns the sample count."""
    return _style_stats(ctx, n_samples).sample_count


def style_channels(ctx, picks, n_samples=core_stylespace.STATS_SAMPLES):
    """Sliders of single style channels: picks [(layer, channel)] -> a DirectionSet of kind
    'style_channel' (unit: each channel's std over n_samples samples)."""
    return core_stylespace.style_channel_directions(ctx.G, _style_stats(ctx, n_samples), picks)


def rank_style_channels(ctx, requests, labels, name='attribute', top=core_stylespace.DEFAULT_TOP,
                        include_torgb=False, n_samples=core_stylespace.STATS_SAMPLES):
    """The channels most tied to a labelled attribute: the exact ws of each labelled sample's
    request, 0/1 labels -> dict(directions: the `top` best as a DirectionSet, ranked: the best 50
    as (layer, channel, score), samples: how many were labelled)."""
    if len(labels) != len(requests):
        raise StylescopeError(f'{len(labels)} labels for {len(requests)} samples: label each sample once')
    stats = _style_stats(ctx, n_samples)
    ws = [ctx.renderer.ws_array(request) for request in requests]
    G = ctx.G
    torgb = [row['name'] for row in core_stylespace.style_layer_table(G) if row['torgb']]
    ranking = core_stylespace.StyleChannelRanking(include_torgb).fit(core_stylespace.styles_of(G, np.stack(ws)),
                                                                      np.asarray(labels), stats, torgb)
    return dict(directions=core_stylespace.ranked_directions(G, stats, ranking, top, name),
                ranked=ranking.top(50), samples=len(requests))


# --- files -----------------------------------------------------------------------------------------

def save_image(ctx, request, path, metadata=None):
    """Render `request` in full and write it as PNG with `metadata` text chunks."""
    result = ctx.renderer.render(request.replace(preview=False))
    save_png(path, result.image, metadata)
    return os.fspath(path)


def save_ws(ctx, request, path):
    """The exact ws of `request` as .npz in the official layout: key 'w', [1, num_ws, w_dim]."""
    path = os.fspath(path)
    ws = ctx.renderer.ws_array(request)[None].astype(np.float32)
    atomic_write(path, lambda f: np.savez(f, w=ws))
    return path


def load_ws(ctx, path):
    """A saved w file -> dict(ws: float32 [n, num_ws, w_dim], noise: the noise maps of a single
    projected w, a NoiseMaps or None, notes: sentences for the user). The maps are the file
    `project` wrote beside its projected_w.npz (named in its meta), so the w is drawn as its
    proj.png; maps that do not fit the network, or a damaged map file, are left out with a note."""
    G = ctx.G
    ws = load_ws_file(path, G.num_ws, G.w_dim)
    noise_file = core_projection.companion_noise_file(path) if len(ws) == 1 else None
    noise, notes = None, []
    if noise_file is not None:
        try:
            noise = core_projection.load_noise_maps(noise_file, G)
        except StylescopeError as e:
            notes.append(f'the w was loaded without its noise maps: {e}')
    return dict(ws=ws, noise=noise, notes=notes)


# --- video -----------------------------------------------------------------------------------------

def video(ctx, out, mode='keyframes', keyframes=(), sweep=None, fps=30.0, duration=4.0, interp='cubic',
          loop=True, psi=1.0, cutoff=None, class_idx=None, noise=None, size=None, quality=8, base=None):
    """Write a video. mode 'keyframes': `keyframes` are Latents (seeds or ws) joined by `interp`;
    mode 'sweep': `sweep` = dict(vector, scale, start, end, amount) swept on the `base` request's
    latent (a RenderRequest: its own edits stay). psi and cutoff apply to seed keyframes only: ws
    (favourites, the shown picture) are drawn as they are. Returns the output path."""
    fmt = check_output(out, None, quality)
    keyframes = list(keyframes)
    if mode == 'sweep' or all(Latent.of(k).w is not None for k in keyframes):
        psi, cutoff = 1.0, None  # favourites' ws and the shown picture's are truncated already: drawn as they are
    options = VideoOptions(fps=fps, duration=duration, interp=interp, loop=loop, psi=psi, cutoff=cutoff,
                           class_idx=class_idx, size=size, **({} if noise is None else dict(noise=noise)))
    renderer = ctx.renderer
    if mode == 'sweep':
        if sweep is None or base is None:
            raise StylescopeError('a direction sweep needs a direction: pick one in the video dialog')
        frames = sweep_requests(renderer, [Latent(w=renderer.ws_array(base))],
                                sweep['vector'], sweep['scale'], sweep['start'], sweep['end'], sweep['amount'],
                                options)
    else:
        if len(keyframes) < 2:
            raise StylescopeError('a keyframe video needs at least two keyframes: add favourites first')
        frames = interpolation_requests(renderer, keyframes, options)
    ctx.progress(0, len(frames))
    export_video(renderer, frames, out, fmt=fmt, fps=fps, quality=quality, progress=ctx.progress, cancel=ctx.cancel)
    return os.fspath(out)


# --- projection ------------------------------------------------------------------------------------

def project(ctx, path, landmarks=None, space='w', num_steps=PROJECTION_DEFAULTS.num_steps,
            seed=PROJECTION_DEFAULTS.seed, class_idx=None, w_avg_samples=PROJECTION_DEFAULTS.w_avg_samples,
            preview_interval=PREVIEW_INTERVAL, pti_steps=PTI_DEFAULTS.num_steps, tuned_path=None):
    """Find the w (or w+) of a photo with core.projection, as `python main.py project` does.

    The target is the photo aligned by `landmarks` ([4, 2] pixel points, core.align's order) or
    centre-cropped (None), at the network's resolution and channels. Partial results are dicts
    (image: the best step's uint8 HWC so far, the start image until a step scores; step, total,
    stage, best_loss, loss: the loss in words, has_D), at most one per `preview_interval` seconds.
    Cancelling ends after the current step and returns the best step so far (stopped=True), not an
    error. Returns: ws float32 [num_ws, w_dim], noise (the best step's optimised noise maps as a
    NoiseMaps, made here, not in the GUI thread: it copies, hashes and checks up to 11 MiB), image
    (the best step's: ws drawn with those maps), target (uint8 HWC), loss (Projector.describe_loss),
    has_D, steps_done, total_steps, best_step (-1: stopped before any step), best_loss, stopped,
    seconds, alignment (core.align's info), notes (sentences for the user), space, and tuned: None,
    or with space 'pti' (core.pti: the W pivot, then `pti_steps` of tuning a copy of the network)
    once a tuning step ran, dict(path: `tuned_path`, written atomically, fingerprint, bytes, note: a
    size sentence or None); ws is then the pivot, image the tuned network's picture of it, and
    noise None (the tuned network draws it with its own const noise)."""
    G = ctx.G
    target, alignment = prepare_target(path, G.img_resolution, G.img_channels, landmarks)
    pivotal = space == 'pti'
    if pivotal and not tuned_path:
        raise StylescopeError('pivotal tuning needs a file to write the tuned network to')
    options = core_projection.ProjectionOptions(num_steps=int(num_steps), space='w' if pivotal else space,
                                                seed=int(seed), w_avg_samples=int(w_avg_samples))
    c = class_vector(G.c_dim, class_idx, ctx.device)
    D, notes = _discriminator(ctx)
    stats = _w_stats(ctx, c, class_idx, options.w_avg_samples)
    if pivotal:
        projector = core_pti.PTIProjector(G, target, D=D, options=options, c=c, stats=stats,
                                          pti=core_pti.PTIOptions(num_steps=int(pti_steps), seed=int(seed)))
    else:
        projector = core_projection.Projector(G, target, D=D, options=options, c=c, stats=stats)
    loss = projector.describe_loss()
    sent = -math.inf
    try:
        ctx.progress(0, projector.total_steps)
        for snap in projector.steps(cancel=ctx.cancel):
            now = time.perf_counter()
            if now - sent >= preview_interval:
                ctx.partial(dict(image=snap.best_image, step=snap.step + 1, total=snap.total, stage=snap.stage,
                                 best_loss=snap.best_loss, loss=loss, has_D=D is not None))
                sent = now
            ctx.progress(snap.step + 1, snap.total)
    except Cancelled:
        pass  # Stop: the best step so far is the result
    result = projector.result()
    tuned = _save_tuned(ctx, result, tuned_path) if pivotal else None
    noise = None if tuned is not None else NoiseMaps(result.noise)
    return dict(ws=result.ws[0], noise=noise, image=result.image, target=target, loss=loss,
                has_D=D is not None, steps_done=result.steps_done, total_steps=result.total_steps,
                best_step=result.best_step, best_loss=result.loss, stopped=result.stopped, seconds=result.seconds,
                alignment=alignment, notes=notes, space=space, tuned=tuned)


def _save_tuned(ctx, result, path):
    """Write a PTI result's tuned network to `path` (its folder made if needed): the result's
    `tuned` dict, or None when no tuning step ran (stopped during the pivot)."""
    if result.G is None:
        return None
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as e:
        raise StylescopeError(f"cannot create the folder of tuned networks '{folder}' ({e.strerror}): free some "
                              'room there, or point the explorer elsewhere') from None
    size = core_pti.save_tuned(path, result, ctx.G, ctx.net.meta.get('source'))
    return dict(path=path, fingerprint=model_io.fingerprint(result.G), bytes=size, note=core_pti.size_note(ctx.G))


# --- "Which face is real?" -------------------------------------------------------------------------

def quiz_images(ctx, data, rounds, per_round, seed=0, psi=1.0, cutoff=None, class_idx=None):
    """The quiz's rounds (core.quiz.plan_quiz) and their faces: the real ones read from the
    dataset `data` (a folder or dataset zip), the generated ones drawn at `psi`, all through
    core.quiz.quiz_image at the network's resolution. Returns dict(plan, images: rounds of uint8
    HWC arrays, dataset: its path, size: its image count)."""
    G = ctx.G
    class_vector(G.c_dim, class_idx)  # a conditional network without a class stops before any reading
    dataset = ImageFolder(data)
    try:
        plan = core_quiz.plan_quiz(len(dataset), rounds, per_round, seed, dataset.image_names,
                                   where=f'dataset {data}')
        ctx.progress(0, len(plan.items()))
        images = core_quiz.quiz_images(
            plan, lambda i: dataset.load_raw_image(i).transpose(1, 2, 0),
            lambda seeds: core_render.render_seeds(G, seeds, class_idx if G.c_dim else None, psi, cutoff),
            G.img_resolution, G.img_channels, progress=ctx.progress)
    finally:
        dataset.close()
    return dict(plan=plan, images=images, dataset=os.path.abspath(os.fspath(data)), size=len(dataset))


def _discriminator(ctx):
    """(D or None, [notes]): the open network's discriminator for the projection loss. The
    explorer opens networks without D, so it is read from the network's file on first use and kept
    in ctx.cache for the next projection (None too: a file without D is not read twice)."""
    if 'D' not in ctx.cache:
        ctx.cache['D'] = _open_discriminator(ctx.net, ctx.device)
    return ctx.cache['D']


def _open_discriminator(net, device):
    if net.D is not None:
        return net.D, []
    source, fingerprint = str(net.meta.get('source') or ''), net.meta.get('fingerprint')
    tuned_from, pti_source = core_pti.pti_source(net.meta)
    if tuned_from and pti_source and os.path.exists(pti_source):  # a tuned network keeps no D: its source's
        source, fingerprint = pti_source, tuned_from
    if net.meta.get('random_init') or not os.path.exists(source):
        return None, []
    try:
        opened = model_io.open_network(source, device=device, want_D=True)
    except StylescopeError as e:
        return None, [f'the discriminator could not be read ({e}), so the loss does without it']
    if opened.meta.get('fingerprint') != fingerprint:  # the file changed since it was opened
        return None, [f"'{source}' holds another network now, so its discriminator is not used: reopen the network"]
    return opened.D, []


def _w_stats(ctx, c, class_idx, samples):
    """(w_avg, w_std) of the open network, computed once per class and sample count."""
    key = ('w_stats', class_idx, samples)
    if key not in ctx.cache:
        ctx.cache[key] = core_projection.w_stats(ctx.G, c, samples)
    return ctx.cache[key]


JOBS = dict(open_network=open_network, pca=pca, sefa=sefa, import_directions=import_directions,
            slider_limits=slider_limits, export_directions=export_directions, render_batch=render_batch, fit_labels=fit_labels,
            save_image=save_image, save_ws=save_ws, load_ws=load_ws, video=video, project=project,
            quiz_images=quiz_images, style_stats=style_stats, style_channels=style_channels,
            rank_style_channels=rank_style_channels)
