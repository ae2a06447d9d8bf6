"""Rendering off the GUI thread.

`RenderClient` lives in the GUI thread and owns a QThread running a `RenderWorker`. Requests
go into a one-slot mailbox, so a burst of slider moves renders only the newest one; every
result carries its request id and the client drops results that are no longer the newest.
The worker calls core functions (which use torch); the explorer's widgets never do.
"""
import os
import threading
import time
from dataclasses import dataclass

from PyQt6.QtCore import QObject, QThread, pyqtSignal, pyqtSlot

from core.default_model import open_network_or_default
from core.device import resolve_device
from core.errors import StylescopeError
from core.latent import class_vector
from core.render import render_seeds


@dataclass(frozen=True)
class SeedRequest:
    request_id: int
    seed: int
    psi: float


class LatestRequest:
    """Thread-safe mailbox holding only the newest request."""

    def __init__(self):
        self._lock = threading.Lock()
        self._item = None

    def put(self, item):
        with self._lock:
            self._item = item

    def take(self):
        with self._lock:
            item, self._item = self._item, None
        return item


def _network_info(net, device):
    meta = net.meta
    source = meta.get('source') or 'network'
    name = 'random network' if meta.get('random_init') else os.path.basename(str(source).rstrip('/\\'))
    return dict(name=name, source=str(source), resolution=net.G.img_resolution, device=str(device),
                random_init=bool(meta.get('random_init')), c_dim=net.G.c_dim, num_ws=net.G.num_ws)


class RenderWorker(QObject):
    """Runs in the render thread: opens networks and renders the newest request."""
    loaded = pyqtSignal(dict)
    rendered = pyqtSignal(int, object, float)  # request id, HWC uint8 array, milliseconds
    failed = pyqtSignal(int, str)  # request id (0: opening the network), one-sentence message

    def __init__(self, mailbox):
        super().__init__()
        self._mailbox = mailbox
        self._net = None
        self._label = None

    @pyqtSlot(object, str)
    def open_network(self, path, device_name):
        try:
            device = resolve_device(device_name)
            self._net = open_network_or_default(path, device)
            self._label = class_vector(self._net.G.c_dim, 0, device)  # conditional nets: class 0 for now
        except Exception as e:  # noqa: BLE001 -- any failure becomes a message, never a crash
            self._net = None
            self.failed.emit(0, str(e) if isinstance(e, StylescopeError) else f'could not open the network: {e!r}')
            return
        self.loaded.emit(_network_info(self._net, device))

    @pyqtSlot()
    def render_newest(self):
        request = self._mailbox.take()
        if request is None:  # already rendered by an earlier wake-up
            return
        if self._net is None:
            self.failed.emit(request.request_id, 'no network is open')
            return
        start = time.perf_counter()
        try:
            image = render_seeds(self._net.G, [request.seed], self._label, psi=request.psi)[0]
        except Exception as e:  # noqa: BLE001
            self.failed.emit(request.request_id, f'render failed: {e!r}')
            return
        self.rendered.emit(request.request_id, image, (time.perf_counter() - start) * 1000)


class RenderClient(QObject):
    """GUI-thread handle on the render thread; re-emits only results of the newest request."""
    loaded = pyqtSignal(dict)
    rendered = pyqtSignal(int, object, float)
    failed = pyqtSignal(int, str)
    _open_requested = pyqtSignal(object, str)
    _wake = pyqtSignal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self._mailbox = LatestRequest()
        self._newest_id = 0
        self._thread = QThread()
        self._thread.setObjectName('stylescope-render')
        self._worker = RenderWorker(self._mailbox)
        self._worker.moveToThread(self._thread)
        self._open_requested.connect(self._worker.open_network)
        self._wake.connect(self._worker.render_newest)
        self._worker.loaded.connect(self.loaded)
        self._worker.rendered.connect(self._on_rendered)
        self._worker.failed.connect(self._on_failed)
        self._thread.start()

    @property
    def newest_id(self):
        return self._newest_id

    def open(self, path=None, device='auto'):
        self._open_requested.emit(path, device)

    def request(self, seed, psi):
        """Queue a render; returns its request id."""
        self._newest_id += 1
        self._mailbox.put(SeedRequest(self._newest_id, int(seed), float(psi)))
        self._wake.emit()
        return self._newest_id

    def is_stale(self, request_id):
        return request_id != 0 and request_id != self._newest_id

    def _on_rendered(self, request_id, image, ms):
        if not self.is_stale(request_id):
            self.rendered.emit(request_id, image, ms)

    def _on_failed(self, request_id, message):
        if not self.is_stale(request_id):
            self.failed.emit(request_id, message)

    def stop(self):
        """Finish the current render and end the thread; safe to call twice."""
        if self._thread.isRunning():
            self._thread.quit()
            self._thread.wait()
