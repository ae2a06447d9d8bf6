"""Videos: frame counts, keyframe paths and loop seams, sweeps, the three writers, cancel,
determinism and the `video` command."""
import argparse
import os
import threading
import types

import imageio
import numpy as np
import PIL.Image
import pytest
import torch

from cli import options as cli_options
from cli import video as cli_video
from core.errors import StylescopeError
from core.networks import Generator
from core.render import Renderer
from core.request import Latent
from core.video import (Cancelled, VideoOptions, export_video, frame_count, interpolate, interpolation_requests,
                        keyframe_positions, sweep_alphas, sweep_requests, write_video)


@pytest.fixture(scope='module')
def G():
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        G = Generator(z_dim=16, c_dim=0, w_dim=16, img_resolution=16, img_channels=3,
                      mapping_kwargs=dict(num_layers=2), synthesis_kwargs=dict(channel_base=256, channel_max=16))
    return G.eval().requires_grad_(False)


def ws_of(frames):
    """[n_frames, num_ws, w_dim] of single-cell frame requests in w."""
    return np.stack([cells[0].w.array for cells in frames]).astype(np.float64)


def test_frame_count_and_positions():
    assert frame_count(30, 4) == 120 and frame_count(24, 0.5) == 12 and frame_count(10, 0.01) == 1
    assert VideoOptions(fps=12, duration=2.5).n_frames == 30
    p = keyframe_positions(10, 3, loop=False)
    assert p[0] == 0 and p[-1] == 2 and len(p) == 10
    p = keyframe_positions(12, 3, loop=True)
    assert p[0] == 0 and p[4] == 1 and p[8] == 2 and p[-1] < 3
    with pytest.raises(StylescopeError):
        VideoOptions(fps=0)
    with pytest.raises(StylescopeError):
        VideoOptions(interp='bezier')


@pytest.mark.parametrize('interp', ['lerp', 'cubic'])
def test_keyframes_are_hit_and_the_loop_has_no_seam(G, interp):
    renderer = Renderer(G)
    seeds = [3, 8, 5]
    keys = [renderer.ws_for_request(VideoOptions(psi=0.7).request(seed=s))[0].numpy() for s in seeds]
    options = VideoOptions(fps=12, duration=2, interp=interp, loop=True, psi=0.7)
    frames = interpolation_requests(renderer, seeds, options)
    assert len(frames) == 24 and all(len(cells) == 1 for cells in frames)
    ws = ws_of(frames)
    for k in range(3):  # every 8th frame is a keyframe, drawn from those ws (truncated once, not twice)
        np.testing.assert_allclose(ws[8 * k], keys[k], atol=1e-6)
        np.testing.assert_allclose(renderer.ws_for_request(frames[8 * k][0])[0].numpy(), keys[k], atol=1e-6)
    # seam: the frame after the last is the first, and the last step is as long as its neighbours
    keys64 = np.stack(keys).astype(np.float64)
    np.testing.assert_array_equal(interpolate(keys64, 3.0, interp, loop=True), interpolate(keys64, 0.0, interp, True))
    if interp == 'lerp':  # linear within the last segment: one more step lands on the first frame
        np.testing.assert_allclose(ws[-1] + (ws[-1] - ws[-2]), ws[0], atol=1e-5)
    steps = np.linalg.norm(np.diff(np.concatenate([ws, ws[:1]]), axis=0), axis=(1, 2))
    assert steps[-1] < 2 * np.median(steps) and not np.allclose(ws[-1], ws[0])
    # without loop the path ends on the last keyframe
    frames = interpolation_requests(renderer, seeds, VideoOptions(fps=12, duration=2, interp=interp, psi=0.7))
    np.testing.assert_allclose(ws_of(frames)[-1], keys[-1], atol=1e-5)
    np.testing.assert_allclose(ws_of(frames)[0], keys[0], atol=1e-6)


def test_slerp_interpolates_z_and_needs_seeds(G):
    renderer = Renderer(G)
    frames = interpolation_requests(renderer, [1, 2], VideoOptions(fps=5, duration=1, interp='slerp'))
    assert frames[0][0].z is not None and frames[0][0].w is None
    np.testing.assert_allclose(frames[0][0].z.array, np.random.RandomState(1).randn(16), atol=1e-6)
    w = np.zeros([G.num_ws, G.w_dim], np.float32)
    with pytest.raises(StylescopeError, match='slerp'):
        interpolation_requests(renderer, [Latent(seed=1), Latent(w=w)], VideoOptions(interp='slerp'))
    with pytest.raises(StylescopeError, match='grid'):
        interpolation_requests(renderer, [1, 2, 3], VideoOptions(), n_cells=2)


def test_sweep_goes_minus_a_to_a_and_back(G):
    alphas = sweep_alphas(20, 3.0)
    assert alphas[0] == -3.0 and alphas[10] == pytest.approx(3.0) and alphas.max() <= 3.0
    np.testing.assert_allclose(sweep_alphas(21, 3.0)[1:], sweep_alphas(21, 3.0)[:0:-1])  # symmetric: back again
    renderer = Renderer(G)
    v = np.eye(G.w_dim)[0]
    frames = sweep_requests(renderer, [1, 2], v, 0.5, 4, G.num_ws, 3.0, VideoOptions(fps=10, duration=2))
    assert len(frames) == 20 and len(frames[0]) == 2
    assert frames[0][0].offsets[0].amount == -1.5 and frames[0][1].seed == 2
    images = [renderer.render(r).image for r in (frames[3][0], frames[17][0])]  # alpha symmetric in time
    np.testing.assert_array_equal(images[0], images[1])
    assert renderer.render(frames[5][0]).computed_blocks == (16,)  # rows 4+ reach only the last block


def test_writers_mp4_gif_png(G, tmp_path):
    renderer = Renderer(G)
    options = VideoOptions(fps=10, duration=1.2, interp='cubic', loop=True)
    frames = interpolation_requests(renderer, [1, 2, 3, 4], options, n_cells=2)
    assert len(frames) == 12 and len(frames[0]) == 2
    calls = []
    export_video(renderer, frames, tmp_path / 'a.mp4', fps=10, quality=8, cols=2,
                 progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (12, 12) and len(calls) == 12
    with imageio.get_reader(tmp_path / 'a.mp4', 'ffmpeg') as reader:
        assert reader.count_frames() == 12
        first = reader.get_data(0)
    assert first.shape == (16, 32, 3)
    export_video(renderer, frames, tmp_path / 'a.gif', fps=10)
    with PIL.Image.open(tmp_path / 'a.gif') as gif:
        assert gif.n_frames == 12 and gif.size == (32, 16) and gif.info['loop'] == 0
    export_video(renderer, frames, tmp_path / 'frames', cols=1)
    names = sorted(os.listdir(tmp_path / 'frames'))
    assert names[0] == 'frame00000.png' and len(names) == 12
    assert PIL.Image.open(tmp_path / 'frames' / names[0]).size == (16, 32)
    assert sorted(os.listdir(tmp_path)) == ['a.gif', 'a.mp4', 'frames']  # no temporary files left
    with pytest.raises(StylescopeError, match='already exists'):
        export_video(renderer, frames, tmp_path / 'frames')


def test_same_arguments_give_the_same_bytes(G, tmp_path):
    def run(out):
        renderer = Renderer(G)  # fresh caches each time
        options = VideoOptions(fps=8, duration=1, interp='slerp', loop=True, psi=0.8)
        export_video(renderer, interpolation_requests(renderer, [7, 9, 11], options), out)
        return {name: (out / name).read_bytes() for name in sorted(os.listdir(out))}
    first, second = run(tmp_path / 'one'), run(tmp_path / 'two')
    assert len(first) == 8 and first == second
    assert len(set(first.values())) == 8  # the frames move
    for name in ('one.mp4', 'two.mp4'):  # x264 output is bit-exact too (metadata stripped)
        renderer = Renderer(G)
        export_video(renderer, sweep_requests(renderer, [1], np.eye(G.w_dim)[1], 1.0, 0, G.num_ws, 2.0,
                                              VideoOptions(fps=8, duration=1)), tmp_path / name)
    assert (tmp_path / 'one.mp4').read_bytes() == (tmp_path / 'two.mp4').read_bytes()


def test_cancel_leaves_nothing(tmp_path):
    stop = threading.Event()
    frames = (np.full([8, 8, 3], i, np.uint8) for i in range(10))

    def progress(done, total):
        if done == 3:
            stop.set()
    for name in ('c.mp4', 'c.gif', 'c'):
        frames = (np.full([8, 8, 3], i, np.uint8) for i in range(10))
        stop.clear()
        with pytest.raises(Cancelled):
            write_video(frames, 10, tmp_path / name, progress=progress, cancel=stop)
    assert os.listdir(tmp_path) == []
    with pytest.raises(StylescopeError, match='quality'):
        write_video(iter([]), 0, tmp_path / 'q.mp4', quality=11)


def test_video_command(G, tmp_path, monkeypatch):
    monkeypatch.setattr(cli_video, '_open_network', lambda path, device: types.SimpleNamespace(G=G, D=None, meta={}))
    parser = argparse.ArgumentParser()
    cli_video.add_parser(parser.add_subparsers(dest='command'))
    np.savez(tmp_path / 'projected_w.npz', w=np.random.RandomState(0).randn(1, G.num_ws, G.w_dim).astype(np.float32))
    args = parser.parse_args(['video', '--seeds', '1,2', '--w-files', str(tmp_path / 'projected_w.npz'),
                              '--interp', 'cubic', '--loop', '--fps', '6', '--duration', '1',
                              '--out', str(tmp_path / 'walk.gif'), '--device', 'cpu'])
    assert cli_video.run(args) == 0
    with PIL.Image.open(tmp_path / 'walk.gif') as gif:
        assert gif.n_frames == 6
    assert cli_video.parse_grid('3x2') == (3, 2)
    assert cli_options.split_direction_spec('d.npz:smile') == ('d.npz', 'smile')
    assert cli_options.split_direction_spec('d.npz:2') == ('d.npz', 2)
    assert cli_options.split_direction_spec('C:\\dirs\\d.npz') == ('C:\\dirs\\d.npz', None)
    with pytest.raises(StylescopeError, match='grid'):
        cli_video.parse_grid('2by2')


def test_video_command_sweep_grid(G, tmp_path, monkeypatch):
    from core.direction_set import DirectionSet
    monkeypatch.setattr(cli_video, '_open_network', lambda path, device: types.SimpleNamespace(G=G, D=None, meta={}))
    DirectionSet(np.eye(G.w_dim)[:2], [1.0, 0.5], [0, 2], [G.num_ws, G.num_ws], ['tone', 'smile']).save(
        tmp_path / 'dirs.npz')
    parser = argparse.ArgumentParser()
    cli_video.add_parser(parser.add_subparsers(dest='command'))
    args = parser.parse_args(['video', '--seeds', '1,2', '--grid', '2x1', '--sweep', f'{tmp_path / "dirs.npz"}:smile',
                              '--amount', '2', '--fps', '5', '--duration', '2', '--out', str(tmp_path / 'sweep'),
                              '--device', 'cpu'])
    assert cli_video.run(args) == 0
    names = sorted(os.listdir(tmp_path / 'sweep'))
    assert len(names) == 10 and PIL.Image.open(tmp_path / 'sweep' / names[0]).size == (32, 16)
    frames = [np.asarray(PIL.Image.open(tmp_path / 'sweep' / n)) for n in names]
    np.testing.assert_array_equal(frames[1], frames[9])  # -a .. a .. -a: symmetric around the middle
    args.grid, args.out = '3x1', str(tmp_path / 'bad')
    with pytest.raises(StylescopeError, match='3x1'):
        cli_video.run(args)


def test_video_keyframes_from_a_saved_session(G, tmp_path, monkeypatch):
    from explorer.state import EditorModel
    from core.request import RenderRequest
    monkeypatch.setattr(cli_video, '_open_network', lambda path, device: types.SimpleNamespace(G=G, D=None, meta={}))
    renderer = Renderer(G, 'cpu')
    model = EditorModel()
    fav_ws = [renderer.ws_array(RenderRequest(seed=s)) for s in (3, 8)]
    for ws in fav_ws:
        model.add_favourite(ws)
    model.save_session(tmp_path / 'session.json')
    parser = argparse.ArgumentParser()
    cli_video.add_parser(parser.add_subparsers(dest='command'))
    args = parser.parse_args(['video', '--session', str(tmp_path / 'session.json'), '--fps', '3', '--duration', '1',
                              '--format', 'png', '--out', str(tmp_path / 'frames'), '--device', 'cpu'])
    assert cli_video.run(args) == 0
    names = sorted(os.listdir(tmp_path / 'frames'))
    assert len(names) == 3
    first = np.asarray(PIL.Image.open(tmp_path / 'frames' / names[0]))
    last = np.asarray(PIL.Image.open(tmp_path / 'frames' / names[-1]))
    expect = [renderer.render(RenderRequest(w=w)).image for w in fav_ws]
    np.testing.assert_array_equal(first, expect[0])  # keyframes are the favourites, in order
    np.testing.assert_array_equal(last, expect[1])
    (tmp_path / 'empty.json').write_text('{"format": "stylescope-session", "version": 1, "state": {}}')
    args.session, args.out = str(tmp_path / 'empty.json'), str(tmp_path / 'frames2')
    with pytest.raises(StylescopeError, match='no favourites'):
        cli_video.run(args)
