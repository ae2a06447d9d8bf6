"""Explorer responsiveness, offscreen: a scripted slider drag through the real window.

    python bench/gui_latency.py                      # the default model and a 1024 random config-f model
    python bench/gui_latency.py --models default --seconds 5
    python bench/gui_latency.py --models sg3-256     # a random StyleGAN3-T 256 (FFHQ-U 256's config)

For each model a direction slider is held and moved 60 times a second (as a mouse drag does),
then released. Printed:
- latency: from a slider value change to the first painted frame that includes it (median,
  95th percentile), while dragging (previews when a full frame is slow) and from the release
  to the full frame;
- the lateness of a 10 ms QTimer probe on the GUI thread during the whole drag (max, p95):
  how long the GUI thread was ever kept from its event loop;
- frames shown and the render times of full frames and previews;
- model callbacks per slider tick: how many subscribers of the editing model's events run
  for one value change (each panel that refreshes is one or more of them);
- the arithmetic of the frames shown during the drag (View > Precision 'auto': bf16 where this
  CPU is faster at it).
The window runs as the app does: torch gets every core but one (core.device.set_torch_threads).
"""
import argparse
import gc
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault('QT_QPA_PLATFORM', 'offscreen')
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from core.allocator import keep_freed_memory  # noqa: E402

keep_freed_memory()  # as main.py does for every command

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PyQt6.QtCore import QEventLoop, QSettings, Qt, QTimer  # noqa: E402
from PyQt6.QtWidgets import QApplication  # noqa: E402

from core.device import set_torch_threads  # noqa: E402
from core.direction_set import DirectionSet  # noqa: E402
from core.model_io import save_network  # noqa: E402
from core.networks import Generator  # noqa: E402
from core.networks_stylegan3 import Generator as StyleGAN3Generator  # noqa: E402

PROBE_MS = 10
MOVE_MS = 16  # a mouse drag delivers about 60 moves a second


def config_f_1024():
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        G = Generator(z_dim=512, c_dim=0, w_dim=512, img_resolution=1024, img_channels=3,
                      mapping_kwargs=dict(num_layers=8),
                      synthesis_kwargs=dict(channel_base=32768, channel_max=512, num_fp16_res=4, conv_clamp=256))
    return G.eval().requires_grad_(False)


def stylegan3_t_256():
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        G = StyleGAN3Generator(z_dim=512, c_dim=0, w_dim=512, img_resolution=256, img_channels=3,  # FFHQ-U 256's
                               mapping_kwargs=dict(num_layers=2), channel_base=16384, channel_max=512)
    return G.eval().requires_grad_(False)


def pct(values, q):
    return float(np.percentile(values, q)) if len(values) else float('nan')


def wait(app, condition, timeout):
    """Run the Qt event loop (as app.exec does) until condition() holds."""
    if condition():
        return
    loop = QEventLoop()
    end = time.perf_counter() + timeout
    failed = []

    def check():
        if condition():
            loop.quit()
        elif time.perf_counter() > end:
            failed.append(True)
            loop.quit()

    poll = QTimer()
    poll.setInterval(5)
    poll.timeout.connect(check)
    poll.start()
    loop.exec()
    poll.stop()
    if failed:
        raise TimeoutError('the window did not finish in time')


class count_model_callbacks:
    """Counts the callbacks the editing model's events run (explorer.events.Event.emit) until stop()."""

    def __init__(self):
        from explorer import events
        self._event_class = events.Event
        self._emit = events.Event.emit
        self.count, self.names = 0, {}
        counter = self

        def emit(event, *args):
            for callback in list(event._callbacks):
                counter.count += 1
                name = getattr(callback, '__qualname__', repr(callback)).split('.<locals>')[0]
                counter.names[name] = counter.names.get(name, 0) + 1
            return counter._emit(event, *args)

        events.Event.emit = emit

    def stop(self):
        self._event_class.emit = self._emit

    def receivers(self):
        return ', '.join(sorted(self.names))


def idle_lateness(app, seconds=2.0):
    """The probe's lateness with nothing rendering: what the machine itself adds."""
    lateness, last = [], [time.perf_counter()]

    def probe():
        now = time.perf_counter()
        lateness.append(max(0.0, (now - last[0]) * 1e3 - PROBE_MS))
        last[0] = now

    timer = QTimer()
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.setInterval(PROBE_MS)
    timer.timeout.connect(probe)
    end = time.perf_counter() + seconds
    last[0] = time.perf_counter()
    timer.start()
    wait(app, lambda: time.perf_counter() > end, seconds + 10)
    timer.stop()
    return max(lateness), pct(lateness, 95)


def run_model(app, label, path, seconds):
    from explorer.main_window import MainWindow
    folder = tempfile.mkdtemp()
    settings = QSettings(os.path.join(folder, 'bench.ini'), QSettings.Format.IniFormat)
    settings.setValue('recovery_folder', os.path.join(folder, 'recovery'))  # a first start: nothing to restore
    settings.setValue('confirm_quit', False)
    win = MainWindow(network_path=path, settings=settings)
    win.resize(1400, 900)
    win.show()
    client = win.render_client
    wait(app, lambda: win.last_result is not None and not client.running_jobs, 600)
    info = win.network_info
    rng = np.random.RandomState(0)
    k = 4
    dset = DirectionSet(rng.randn(k, info['w_dim']), np.ones(k), np.zeros(k, int), np.full(k, info['num_ws']),
                        [f'd{i}' for i in range(k)], dict(method='pca'))
    win.model.update(directions=dset, alphas=(0.0,) * k)
    wait(app, lambda: win.last_result.request_id == client.newest_id and not win.last_result.preview, 600)
    # warm-up drag and release: the first full frame sets the preview policy
    full_first = win.last_result.timings['total_ms']

    changes = []   # (time, request id)
    shown = []     # (time, request id, preview)
    lateness = []
    results = {}
    client.rendered.connect(lambda r: results.__setitem__(r.request_id, r))
    win.image_view.shown.connect(lambda rid: shown.append((time.perf_counter(), rid)))

    last_tick = [time.perf_counter()]

    def probe():
        now = time.perf_counter()
        lateness.append(max(0.0, (now - last_tick[0]) * 1e3 - PROBE_MS))
        last_tick[0] = now

    probe_timer = QTimer()
    probe_timer.setTimerType(Qt.TimerType.PreciseTimer)
    probe_timer.setInterval(PROBE_MS)
    probe_timer.timeout.connect(probe)

    slider = win.directions_panel.rows[0].slider
    n_moves = int(seconds * 1000 / MOVE_MS)
    values = 3.0 * np.sin(np.linspace(0, 2 * np.pi, n_moves))
    step = [0]

    def move():
        if step[0] >= n_moves:
            move_timer.stop()
            return
        slider.setValue(float(values[step[0]]) + 1e-3)
        changes.append((time.perf_counter(), client.newest_id))
        step[0] += 1

    move_timer = QTimer()
    move_timer.setTimerType(Qt.TimerType.PreciseTimer)
    move_timer.setInterval(MOVE_MS)
    move_timer.timeout.connect(move)

    gc_pauses, gc_start = [], [0.0]

    def gc_watch(phase, _info):
        if phase == 'start':
            gc_start[0] = time.perf_counter()
        else:
            gc_pauses.append((time.perf_counter() - gc_start[0]) * 1e3)

    gc.callbacks.append(gc_watch)
    callbacks = count_model_callbacks()
    last_tick[0] = time.perf_counter()
    probe_timer.start()
    slider.sliderPressed.emit()
    move_timer.start()
    wait(app, lambda: step[0] >= n_moves, seconds * 10 + 60)
    drag_end_id = client.newest_id
    wait(app, lambda: any(rid >= drag_end_id for _, rid in shown), 600)
    release_time = time.perf_counter()
    slider.sliderReleased.emit()
    release_id = client.newest_id
    wait(app, lambda: any(rid >= release_id for _, rid in shown), 600)
    release_shown = next(t for t, rid in shown if rid >= release_id)
    probe_timer.stop()
    gc.callbacks.remove(gc_watch)
    callbacks.stop()

    latencies = []
    for t_change, rid in changes:
        t_frame = next((t for t, shown_id in shown if shown_id >= rid and t >= t_change), None)
        if t_frame is not None:
            latencies.append((t_frame - t_change) * 1e3)
    drag_frames = [results[rid] for _, rid in shown if rid in results and rid < release_id]
    previews = [r.timings['total_ms'] for r in drag_frames if r.preview]
    fulls = [r.timings['total_ms'] for r in drag_frames if not r.preview] + [results[release_id].timings['total_ms']]
    row = dict(model=label, resolution=info['resolution'], moves=len(changes), frames=len(drag_frames),
               fps=len(drag_frames) / seconds, lat_med=statistics.median(latencies), lat_p95=pct(latencies, 95),
               release=(release_shown - release_time) * 1e3, late_max=max(lateness), late_p95=pct(lateness, 95),
               full_ms=statistics.median(fulls), preview_ms=statistics.median(previews) if previews else float('nan'),
               first_full=full_first, gc_max=max(gc_pauses, default=0.0),
               callbacks=callbacks.count / max(len(changes), 1), receivers=callbacks.receivers(),
               precision='/'.join(sorted({r.precision for r in drag_frames})) or '-')
    win.close()
    client.stop()
    app.processEvents()
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--models', default='default,1024', help='comma list of: default, 1024, sg3-256')
    parser.add_argument('--seconds', type=float, default=4.0, help='length of each drag (default 4)')
    args = parser.parse_args()
    threads = set_torch_threads(reserve=1)
    global _app  # module level, not a local: a QApplication freed before its widgets crashes Qt
    _app = app = QApplication.instance() or QApplication(sys.argv[:1])
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models.split(','):
            if name == 'default':
                rows.append(run_model(app, 'default', None, args.seconds))
            elif name == '1024':
                path = os.path.join(tmp, 'config-f-1024.safetensors')
                save_network(path, config_f_1024())
                rows.append(run_model(app, '1024 config-f (random)', path, args.seconds))
            elif name == 'sg3-256':
                path = os.path.join(tmp, 'stylegan3-t-256.safetensors')
                save_network(path, stylegan3_t_256())
                rows.append(run_model(app, 'StyleGAN3-T 256 (random)', path, args.seconds))
            else:
                parser.error(f'unknown model {name!r}: use default, 1024 or sg3-256')
    idle_max, idle_p95 = idle_lateness(app)
    print(f'torch threads: {threads}, cores: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f}, '
          f'drag: {args.seconds:g} s at {1000 / MOVE_MS:.0f} moves/s, probe: {PROBE_MS} ms QTimer '
          f'(late with nothing rendering: max {idle_max:.1f} ms, p95 {idle_p95:.1f} ms)')
    head = ('model', 'res', 'frames', 'fps', 'latency med', 'p95', 'release->full', 'probe late max', 'p95',
            'full ms', 'preview ms', 'gc pause max', 'callbacks per tick', 'drag frames in')
    print(' | '.join(head))
    for r in rows:
        print(f"{r['model']} | {r['resolution']} | {r['frames']} | {r['fps']:.1f} | {r['lat_med']:.0f} ms | "
              f"{r['lat_p95']:.0f} ms | {r['release']:.0f} ms | {r['late_max']:.1f} ms | {r['late_p95']:.1f} ms | "
              f"{r['full_ms']:.0f} | {r['preview_ms']:.0f} | {r['gc_max']:.1f} ms | {r['callbacks']:.1f} | "
              f"{r['precision']}")
    for r in rows:
        print(f"callbacks run during the drag of {r['model']}: {r['receivers']}")


_app = None

if __name__ == '__main__':
    main()
    # Leave without tearing Qt down: the interpreter's exit frees the QApplication and the closed
    # windows in no set order, which crashes Qt now and then after every figure is printed.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
