"""What a video may ask for: the bounds `video`'s parser, core.video and the export dialog check.
No torch, so the command line can name them in its flags without loading it.

Every bound is far past a useful video and far below what would exhaust memory: frames are
listed (as requests) before any is drawn, a frame is one array of all its cells, and a gif holds
every frame (Pillow writes them at the end), one byte per pixel.
"""
from core.errors import StylescopeError

MAX_FPS = 240.0
MAX_DURATION = 3600.0             # seconds
MAX_FRAMES = 100_000              # 55 minutes at 30 fps
MAX_SIDE = 4096                   # pixels of one cell
MAX_GRID_SIDE = 32                # cells across or down
MAX_FRAME_PIXELS = 8192 * 8192    # one frame, all cells: 200 MB of RGB
MAX_GIF_BYTES = 1 << 30           # every frame of a gif, one byte a pixel


def frame_count(fps, duration):
    """Frames in a video of `duration` seconds at `fps`: round(fps * duration), at least 1."""
    return max(1, int(round(fps * duration)))


def check_video_size(n_frames, side, cells=1, fmt='mp4'):
    """Refuse, before anything is drawn, a video of n_frames frames of `cells` cells of side x
    side pixels that could not be held or written."""
    if n_frames > MAX_FRAMES:
        raise StylescopeError(f'{n_frames:,} frames is more than {MAX_FRAMES:,}: lower --fps or --duration')
    pixels = side * side * cells
    if pixels > MAX_FRAME_PIXELS:
        raise StylescopeError(f'a frame of {cells} cells of {side}x{side} pixels is too large (over '
                              f'{MAX_FRAME_PIXELS:,} pixels): lower --size or use a smaller --grid')
    if fmt == 'gif' and n_frames * pixels > MAX_GIF_BYTES:
        raise StylescopeError(f'a gif of {n_frames:,} frames of {pixels:,} pixels would need over '
                              f'{MAX_GIF_BYTES >> 30} GiB of memory: write an mp4, or lower --size, --fps or --duration')
