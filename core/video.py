"""Videos: keyframe interpolation and direction sweeps, as mp4, gif or a folder of png frames.

A video is a list of frames, each frame a list of RenderRequests (one per grid cell) drawn by a
`core.render.Renderer` and tiled with `core.images.make_grid`:

- `interpolation_requests`: keyframes (seeds, z or saved w) joined by lerp, slerp or a smooth
  Catmull-Rom curve. slerp (and lerp with space='z') interpolate z and map every frame; otherwise
  keyframes are mapped once and interpolated in w (per ws row, so w+ keyframes work). With
  `loop`, the last keyframe joins back to the first and the frame after the last is the first.
- `sweep_requests`: one direction swept from -amount to +amount and back
  (alpha = -amount * cos(2 pi t)), on each cell's latent; a sweep always loops seamlessly.
- `motion_requests`: a StyleGAN3 network's picture panned across and back and / or rotated
  through its input transform (the network's equivariance on show).
- `write_video`: mp4 (H.264 through imageio-ffmpeg, `quality` 1-10), gif (Pillow, each frame
  quantised with the fast octree method) or png frames; written under a temporary name and
  renamed when complete; `progress(done, total)` and `cancel` (a callable or threading.Event).

Frames depend only on the arguments (const noise by default; seeded random noise otherwise), so
the same arguments give the same frames.
"""
import math
import os
from dataclasses import dataclass

import numpy as np
import PIL.Image

from core.atomic import atomic_folder, atomic_path, check_writable
from core.errors import Cancelled, StylescopeError, is_cancelled
from core.images import make_grid
from core.interpolate import catmull_rom, lerp, slerp
from core.noise_spec import NoiseSpec
from core.request import Latent, RenderRequest, slider_offset
from core.seeds import seed_walk_z
from core.video_limits import MAX_DURATION, MAX_FPS, MAX_FRAMES, MAX_SIDE, frame_count

INTERPOLATIONS = ('lerp', 'slerp', 'cubic')
SPACES = ('z', 'w')
FORMATS = ('mp4', 'gif', 'png')


@dataclass(frozen=True)
class VideoOptions:
    """Timing, path and rendering options shared by every frame. space: 'z' or 'w'; None picks
    z for slerp and w for lerp and cubic. size: output pixels of each cell (None: the model's)."""
    fps: float = 30.0
    duration: float = 4.0
    interp: str = 'lerp'
    space: str = None
    loop: bool = False
    psi: float = 1.0
    cutoff: int = None
    class_idx: int = None
    noise: NoiseSpec = NoiseSpec()
    size: int = None
    precision: str = 'auto'

    def __post_init__(self):
        if self.interp not in INTERPOLATIONS:
            raise StylescopeError(f"unknown interpolation '{self.interp}': use one of {', '.join(INTERPOLATIONS)}")
        if self.space is not None and self.space not in SPACES:
            raise StylescopeError(f"unknown interpolation space '{self.space}': use z or w")
        if not (math.isfinite(self.fps) and 0 < self.fps <= MAX_FPS):
            raise StylescopeError(f'--fps {self.fps} is not allowed: use a number above 0 up to {MAX_FPS:g}')
        if not (math.isfinite(self.duration) and 0 < self.duration <= MAX_DURATION):
            raise StylescopeError(f'--duration {self.duration} is not allowed: use a number of seconds above 0 up '
                                  f'to {MAX_DURATION:g}')
        if self.size is not None and not 4 <= self.size <= MAX_SIDE:
            raise StylescopeError(f'--size {self.size} is not allowed: use 4 to {MAX_SIDE} pixels')
        if self.n_frames > MAX_FRAMES:
            raise StylescopeError(f'{self.n_frames:,} frames is more than {MAX_FRAMES:,}: lower --fps or --duration')

    @property
    def n_frames(self):
        return frame_count(self.fps, self.duration)

    @property
    def interp_space(self):
        return self.space or ('z' if self.interp == 'slerp' else 'w')

    def request(self, **latent):
        return RenderRequest(class_idx=self.class_idx, psi=self.psi, cutoff=self.cutoff, noise=self.noise,
                             output_size=self.size, precision=self.precision, **latent)


def keyframe_positions(n_frames, n_keys, loop):
    """Position of every frame on the keyframe axis (keyframe k sits at k). Without loop the
    first frame is keyframe 0 and the last is keyframe n_keys - 1; with loop the frames cover
    [0, n_keys) evenly, so frame n_frames (the one after the last) would be keyframe 0 again."""
    i = np.arange(n_frames, dtype=np.float64)
    if loop:
        return i * n_keys / n_frames
    if n_frames == 1:
        return np.zeros(1)
    return i * (n_keys - 1) / (n_frames - 1)


def interpolate(keys, position, interp='lerp', loop=False):
    """The point at `position` on the path through keys [K, ...] (numpy): lerp, slerp (along the
    last axis) or cubic (Catmull-Rom through every key). With loop the path wraps from the last
    key to the first; position is taken modulo K."""
    n = len(keys)
    if n == 1:
        return keys[0].copy()
    if loop:
        position = position % n
        k = int(math.floor(position))
        t = position - k
        i0, i1, i2, i3 = (k - 1) % n, k, (k + 1) % n, (k + 2) % n
    else:
        k = min(max(int(math.floor(position)), 0), n - 2)
        t = position - k
        i0, i1, i2, i3 = max(k - 1, 0), k, k + 1, min(k + 2, n - 1)
    if interp == 'lerp':
        return lerp(keys[i1], keys[i2], t)
    if interp == 'slerp':
        return slerp(keys[i1], keys[i2], t)
    if interp == 'cubic':
        return catmull_rom(keys[i0], keys[i1], keys[i2], keys[i3], t)
    raise StylescopeError(f"unknown interpolation '{interp}': use one of {', '.join(INTERPOLATIONS)}")


def _split_cells(keyframes, n_cells):
    if len(keyframes) == 0:
        raise StylescopeError('a video needs at least one keyframe: give --seeds or --w-files')
    if len(keyframes) % n_cells:
        raise StylescopeError(f'{len(keyframes)} keyframes cannot be shared by a grid of {n_cells} cells: '
                              f'give a multiple of {n_cells} seeds / w')
    per_cell = len(keyframes) // n_cells
    return [keyframes[i * per_cell:(i + 1) * per_cell] for i in range(n_cells)]


def _z_of(latent, z_dim):
    if latent.seed is not None:
        return seed_walk_z(latent.seed, latent.seed_frac, z_dim)[0]
    return latent.z.array.astype(np.float64).reshape(-1)


def interpolation_requests(renderer, keyframes, options, n_cells=1):
    """Frames of a keyframe video: [n_frames][n_cells] RenderRequests. keyframes: Latents (or
    seeds); with several cells, cell i takes the i-th consecutive share of the keyframes."""
    keyframes = [Latent.of(k) for k in keyframes]
    cells = _split_cells(keyframes, n_cells)
    n = options.n_frames
    positions = keyframe_positions(n, len(cells[0]), options.loop)
    space = options.interp_space
    if space == 'z' and any(k.w is not None for k in keyframes):
        raise StylescopeError(f'{options.interp} in z needs seeds (or z) as keyframes, and a saved w has no z: '
                              'use --interp lerp or cubic, which interpolate in w')
    if space == 'w' and options.interp == 'slerp':
        raise StylescopeError('slerp interpolates z: drop --space w, or use --interp lerp or cubic in w')
    G = renderer.G
    frames = [[] for _ in range(n)]
    for cell in cells:
        if space == 'z':
            keys = np.stack([_z_of(k, G.z_dim) for k in cell])
        else:
            keys = np.stack([renderer.ws_for_request(options.request(**_latent_fields(k)))[0].cpu().numpy()
                             for k in cell]).astype(np.float64)
        for i, p in enumerate(positions):
            point = interpolate(keys, p, options.interp, options.loop)
            request = options.request(**{space: point})
            # w keys are the truncated ws already: drawn as they are (an explicit w would be truncated again)
            frames[i].append(request.replace(psi=1.0, cutoff=None) if space == 'w' else request)
    return frames


def _latent_fields(latent):
    if latent.w is not None:
        return dict(w=latent.w)
    if latent.z is not None:
        return dict(z=latent.z)
    return dict(seed=latent.seed)


def sweep_alphas(n_frames, amount):
    """-amount -> +amount -> -amount over the video, smoothly: alpha_i = -amount * cos(2 pi i / n).
    Periodic, so the frame after the last is the first."""
    return -float(amount) * np.cos(2 * np.pi * np.arange(n_frames) / n_frames)


def sweep_requests(renderer, latents, vector, scale, start, end, amount, options):
    """Frames of a direction sweep: [n_frames][len(latents)] RenderRequests; the direction
    (unit `vector`, slider unit `scale`, ws rows [start, end)) moves every cell by
    alpha * scale * vector with alpha from `sweep_alphas`."""
    latents = [Latent.of(k) for k in latents]
    if not latents:
        raise StylescopeError('a sweep needs at least one latent: give --seeds or --w-files')
    vector = np.asarray(vector, dtype=np.float32)
    vector = vector if vector.ndim == 2 else vector.reshape(-1)  # 2-D: a per-row direction [num_ws, w_dim]
    frames = []
    for alpha in sweep_alphas(options.n_frames, amount):
        offset = slider_offset(vector, scale, alpha, start, end)
        frames.append([options.request(offsets=(offset,), **_latent_fields(k)) for k in latents])
    return frames


def motion_requests(latents, pan, rotate, options):
    """Frames of a StyleGAN3 motion video: [n_frames][len(latents)] RenderRequests moving every
    cell through the network's input transform: across and back by `pan` image widths (x =
    pan * sin(2 pi t)) and turning by `rotate` degrees in all (a multiple of 360 loops
    seamlessly), t from 0 to 1. An equivariant network moves the same picture; one that is not
    redraws it as it goes."""
    latents = [Latent.of(k) for k in latents]
    if not latents:
        raise StylescopeError('a motion video needs at least one latent: give --seeds or --w-files')
    frames = []
    for t in np.arange(options.n_frames) / options.n_frames:
        motion = (float(rotate) * t, float(pan) * math.sin(2 * math.pi * t), 0.0)
        frames.append([options.request(motion=motion, **_latent_fields(k)) for k in latents])
    return frames


def render_frames(renderer, frame_requests, cols=None):
    """Yield one HWC uint8 image per frame; several cells are tiled with `cols` columns."""
    for cell_requests in frame_requests:
        images = [renderer.render(request).image for request in cell_requests]
        yield images[0] if len(images) == 1 else make_grid(images, cols)


# --- writers --------------------------------------------------------------------------------------

def format_for(path, fmt=None):
    """The output format: `fmt` if given, else from the extension (.mp4, .gif; anything else is
    a folder of png frames)."""
    if fmt is not None:
        if fmt not in FORMATS:
            raise StylescopeError(f"unknown video format '{fmt}': use one of {', '.join(FORMATS)}")
        return fmt
    ext = os.path.splitext(os.fspath(path))[1].lower()
    return {'.mp4': 'mp4', '.gif': 'gif'}.get(ext, 'png')


def _rgb(frame):
    if frame.shape[2] == 1:
        return np.repeat(frame, 3, axis=2)
    if frame.shape[2] != 3:
        raise StylescopeError(f'frames with {frame.shape[2]} channels cannot be written as video: use --format png')
    return np.ascontiguousarray(frame)


def _each(frames, n_frames, progress, cancel):
    for i, frame in enumerate(frames):
        if is_cancelled(cancel):
            raise Cancelled('video export cancelled')
        yield frame
        if progress is not None:
            progress(i + 1, n_frames)


def _write_mp4(frames, tmp, fps, quality):
    import imageio_ffmpeg
    writer = None
    try:
        for frame in frames:
            frame = _rgb(frame)
            if writer is None:
                h, w = frame.shape[:2]
                writer = imageio_ffmpeg.write_frames(
                    tmp, (w, h), fps=fps, codec='libx264', quality=quality, pix_fmt_in='rgb24',
                    pix_fmt_out='yuv420p', macro_block_size=2, ffmpeg_log_level='error',
                    output_params=['-f', 'mp4', '-fflags', '+bitexact', '-flags:v', '+bitexact',
                                   '-map_metadata', '-1'])
                writer.send(None)
            writer.send(frame)
    finally:
        if writer is not None:
            writer.close()


def _write_gif(frames, tmp, fps):
    images = [PIL.Image.fromarray(_rgb(frame)).quantize(method=PIL.Image.Quantize.FASTOCTREE)
              for frame in frames]
    if images:
        images[0].save(tmp, format='GIF', save_all=True, append_images=images[1:],
                       duration=max(20, int(round(1000 / fps))), loop=0)


def _write_png_frames(frames, tmp_dir):
    for i, frame in enumerate(frames):
        array = frame[:, :, 0] if frame.shape[2] == 1 else frame
        PIL.Image.fromarray(array).save(os.path.join(tmp_dir, f'frame{i:05d}.png'), format='PNG')


def check_output(out, fmt=None, quality=8):
    """Refuse, before any rendering, an output that cannot be written; returns the format."""
    out = os.fspath(out)
    fmt = format_for(out, fmt)
    if not 1 <= quality <= 10:
        raise StylescopeError(f'--quality {quality} is out of range: use 1 (smallest file) to 10 (best)')
    folder = os.path.dirname(os.path.abspath(out.rstrip('/\\'))) or '.'
    if not os.path.isdir(folder):
        raise StylescopeError(f"output folder '{folder}' does not exist: create it or choose another --out")
    if fmt == 'png' and os.path.exists(out) and not (os.path.isdir(out) and not os.listdir(out)):
        raise StylescopeError(f"'{out}' already exists: choose a new --out folder for the png frames")
    if fmt != 'png' and os.path.isdir(out):
        raise StylescopeError(f"'{out}' is a folder: give a file name ending in .{fmt} as --out")
    check_writable(out, as_folder=fmt == 'png')
    return fmt


def write_video(frames, n_frames, out, fmt=None, fps=30.0, quality=8, progress=None, cancel=None):
    """Write HWC uint8 `frames` (an iterable of n_frames) to `out`; returns the format used.
    mp4 and gif replace an existing file; png frames go to a new (or empty) folder `out`
    as frame00000.png ... Nothing is left at `out` if writing fails or is cancelled."""
    out = os.fspath(out)
    fmt = check_output(out, fmt, quality)
    frames = _each(frames, n_frames, progress, cancel)
    if fmt == 'png':
        with atomic_folder(out) as tmp:
            _write_png_frames(frames, tmp)
        return fmt
    with atomic_path(out, suffix='.' + fmt) as tmp:
        if fmt == 'mp4':
            _write_mp4(frames, tmp, fps, quality)
        else:
            _write_gif(frames, tmp, fps)
    return fmt


def export_video(renderer, frame_requests, out, fmt=None, fps=30.0, quality=8, cols=None, progress=None,
                 cancel=None):
    """Render `frame_requests` (from interpolation_requests or sweep_requests) and write them."""
    frames = render_frames(renderer, frame_requests, cols)
    return write_video(frames, len(frame_requests), out, fmt, fps, quality, progress, cancel)
