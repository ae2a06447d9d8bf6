"""Everything torch does for the explorer happens on one thread, owned by this module.

`RenderClient` lives in the GUI thread and owns a QThread running a `RenderWorker`, which owns
the open network and its `core.render.Renderer`.

- Renders: `client.render(render_request)` puts the request in a one-slot mailbox, so requests
  arriving during a render replace each other and only the newest is rendered. Every result
  carries its request id; the client drops stale ones (older than a result already shown, or
  made for a network that has since been replaced). A failing render becomes a
  `render_failed` message, never a crash.
- Jobs: `client.submit(kind, **params)` runs one of `explorer.jobs.JOBS` (opening a network,
  PCA / SeFa, direction files, batches of thumbnails, labels -> direction, image / w / video
  export, projecting a photo) on the same thread, one after another, and returns a `Job` with progress, partial
  results, finished / failed / cancelled signals and `cancel()`. Whenever a job reports progress
  the worker first renders the newest pending request, so the picture keeps following the
  sliders during long work while only one torch thread pool is ever busy.
- Opening a network is a job: if it fails, the previous network stays open and usable.
- `RenderClient(sync=True)` (tests, scripts) draws each render on the calling thread: its result
  is emitted before `render()` returns, so a test sees the frame without waiting for it. Jobs
  still run on the render thread (they are long and can be cancelled); the renderer's lock makes
  the two take turns.

The explorer's widgets never call torch; only this thread (through core functions) does.
"""
import itertools
import threading
import time
from dataclasses import dataclass

from PyQt6.QtCore import QObject, QThread, pyqtSignal, pyqtSlot

from core.errors import Cancelled, StylescopeError, is_cancelled
from explorer import jobs


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


@dataclass
class _JobSpec:
    job_id: int
    kind: str
    params: dict
    cancel: threading.Event


def error_sentence(exc, what='the work'):
    """A user-facing sentence for an exception: StylescopeError's own text, else what failed."""
    if isinstance(exc, StylescopeError):
        return str(exc)
    return f'{what} failed ({type(exc).__name__}: {exc})'


class JobContext:
    """What a job function gets: the open network and renderer, `progress(done, total)`
    (which also renders pending requests and raises Cancelled when asked to stop), `partial(x)`
    for results as they come, `cancel` (an Event to hand to core functions), `install(net)`
    to make a freshly opened network the current one, and `cache`: a dict that lives as long as
    the open network, for what one job opens or computes and the next can reuse (the projection's
    discriminator and w statistics)."""

    def __init__(self, worker, spec):
        self._worker = worker
        self._spec = spec
        self.cancel = spec.cancel

    @property
    def net(self):
        if self._worker.net is None:
            raise StylescopeError('no network is open: open a network file first')
        return self._worker.net

    @property
    def renderer(self):
        self.net  # noqa: B018 -- raises the sentence above when nothing is open
        return self._worker.renderer

    @property
    def G(self):
        return self.net.G

    @property
    def device(self):
        return self._worker.device

    @property
    def cache(self):
        self.net  # noqa: B018 -- raises the sentence above when nothing is open
        return self._worker.net_cache

    def progress(self, done, total):
        self._worker.job_progress.emit(self._spec.job_id, int(done), int(total))
        self._worker.render_pending()
        if is_cancelled(self.cancel):
            raise Cancelled(f'{self._spec.kind} cancelled')

    def partial(self, value):
        self._worker.job_partial.emit(self._spec.job_id, value)

    def install(self, net, device):
        self._worker.install(net, device)


class RenderWorker(QObject):
    """Lives in the render thread: renders the newest request, runs jobs."""
    rendered = pyqtSignal(object)              # RenderResult
    render_failed = pyqtSignal(int, str)       # request id, sentence
    job_progress = pyqtSignal(int, int, int)   # job id, done, total
    job_partial = pyqtSignal(int, object)
    job_finished = pyqtSignal(int, object)
    job_failed = pyqtSignal(int, str, bool)    # job id, sentence, cancelled

    def __init__(self, mailbox):
        super().__init__()
        self._mailbox = mailbox
        self.net = None
        self.renderer = None
        self.device = None
        self.net_cache = {}

    def install(self, net, device):
        self.net = net
        self.device = device
        self.renderer = jobs.make_renderer(net)
        self.net_cache = {}  # what jobs kept for the previous network does not fit this one

    def render_pending(self):
        request = self._mailbox.take()
        if request is None:  # already rendered by an earlier wake-up
            return
        if self.renderer is None:
            self.render_failed.emit(request.request_id, 'no network is open: open a network file first')
            return
        try:
            result = self.renderer.render(request)
        except Exception as exc:  # noqa: BLE001 -- any failure becomes a message, never a crash
            self.render_failed.emit(request.request_id, error_sentence(exc, 'rendering'))
            return
        self.rendered.emit(result)

    @pyqtSlot()
    def render_newest(self):
        self.render_pending()

    @pyqtSlot(object)
    def run_job(self, spec):
        if is_cancelled(spec.cancel):
            self.job_failed.emit(spec.job_id, f'{spec.kind} cancelled', True)
            return
        try:
            result = jobs.JOBS[spec.kind](JobContext(self, spec), **spec.params)
        except Cancelled as exc:
            self.job_failed.emit(spec.job_id, str(exc) or f'{spec.kind} cancelled', True)
        except Exception as exc:  # noqa: BLE001
            self.job_failed.emit(spec.job_id, error_sentence(exc, jobs.DESCRIPTIONS.get(spec.kind, spec.kind)), False)
        else:
            self.job_finished.emit(spec.job_id, result)
        self.render_pending()


class Job(QObject):
    """GUI-thread handle on one background job."""
    progress = pyqtSignal(int, int)
    partial = pyqtSignal(object)
    finished = pyqtSignal(object)
    failed = pyqtSignal(str)
    cancelled = pyqtSignal()
    ended = pyqtSignal()  # after any of finished / failed / cancelled

    def __init__(self, job_id, kind, description, parent=None):
        super().__init__(parent)
        self.job_id = job_id
        self.kind = kind
        self.description = description
        self.cancel_event = threading.Event()
        self.done = False
        self.result = None
        self.error = None
        self.was_cancelled = False
        self.started_at = time.perf_counter()
        self.last_progress = (0, 0)

    def cancel(self):
        self.cancel_event.set()


class RenderClient(QObject):
    """GUI-thread handle on the render thread. It passes on a result unless it is stale: older
    than one already passed on, or made for a network that has since been replaced (see
    is_stale); during a drag that is not always the newest request's result."""
    rendered = pyqtSignal(object)
    render_failed = pyqtSignal(int, str)
    network_opened = pyqtSignal(dict)
    network_failed = pyqtSignal(str)
    jobs_changed = pyqtSignal()  # a job started or ended
    _wake = pyqtSignal()
    _run = pyqtSignal(object)

    def __init__(self, parent=None, sync=False):
        super().__init__(parent)
        self.sync = sync
        self._mailbox = LatestRequest()
        self._newest_id = 0
        self._passed_id = 0  # the newest request id whose result was passed on
        self._floor_id = 0   # results of requests made before this id are stale (an older network)
        self._ids = itertools.count(1)
        self._jobs = {}
        self._thread = QThread()
        self._thread.setObjectName('stylescope-render')
        self._worker = RenderWorker(self._mailbox)
        self._worker.moveToThread(self._thread)
        self._wake.connect(self._worker.render_newest)
        self._run.connect(self._worker.run_job)
        self._worker.rendered.connect(self._on_rendered)
        self._worker.render_failed.connect(self._on_render_failed)
        self._worker.job_progress.connect(self._on_progress)
        self._worker.job_partial.connect(self._on_partial)
        self._worker.job_finished.connect(self._on_finished)
        self._worker.job_failed.connect(self._on_failed)
        self._thread.start()

    # -- renders
    @property
    def newest_id(self):
        return self._newest_id

    def render(self, render_request):
        """Queue a RenderRequest; returns its request id."""
        self._newest_id += 1
        request_id = self._newest_id
        self._mailbox.put(render_request.replace(request_id=request_id))
        if self.sync:
            self._worker.render_pending()
        else:
            self._wake.emit()
        return request_id

    @property
    def busy(self):
        """True while a render or a job is under way."""
        return self._newest_id > self._passed_id or bool(self._jobs)

    def is_stale(self, request_id):
        """A result older than one already passed on (or than a request made before the newest
        network was opened) is stale. A result for an older request that is newer than what is on
        screen is not: during a drag it is the freshest picture there is."""
        return request_id <= self._passed_id or request_id < self._floor_id

    def _on_rendered(self, result):
        if not self.is_stale(result.request_id):
            self._passed_id = result.request_id
            self.rendered.emit(result)

    def _on_render_failed(self, request_id, message):
        if not self.is_stale(request_id):
            self.render_failed.emit(request_id, message)

    # -- jobs
    def submit(self, kind, **params):
        """Run jobs.JOBS[kind](ctx, **params) on the render thread; returns its Job."""
        if kind not in jobs.JOBS:
            raise KeyError(f'unknown job {kind!r}')
        job = Job(next(self._ids), kind, jobs.DESCRIPTIONS.get(kind, kind), self)
        self._jobs[job.job_id] = job
        spec = _JobSpec(job.job_id, kind, params, job.cancel_event)
        self._run.emit(spec)
        self.jobs_changed.emit()
        return job

    def open(self, path=None, device='auto'):
        """Open a network in the background (None: the default one); returns the Job."""
        job = self.submit('open_network', path=path, device=device)
        job.finished.connect(self._opened)
        job.failed.connect(self.network_failed)
        return job

    def _opened(self, info):
        self._floor_id = self._newest_id + 1
        self.network_opened.emit(info)

    @property
    def running_jobs(self):
        return list(self._jobs.values())

    def cancel_all(self):
        for job in self._jobs.values():
            job.cancel()

    def _on_progress(self, job_id, done, total):
        job = self._jobs.get(job_id)
        if job is not None:
            job.last_progress = (done, total)
            job.progress.emit(done, total)

    def _on_partial(self, job_id, value):
        job = self._jobs.get(job_id)
        if job is not None:
            job.partial.emit(value)

    def _end(self, job_id):
        job = self._jobs.pop(job_id, None)
        if job is not None:
            job.done = True
        return job

    def _on_finished(self, job_id, result):
        job = self._end(job_id)
        if job is not None:
            job.result = result
            job.finished.emit(result)
            job.ended.emit()
            self.jobs_changed.emit()

    def _on_failed(self, job_id, message, cancelled):
        job = self._end(job_id)
        if job is not None:
            job.error = message
            job.was_cancelled = cancelled
            (job.cancelled.emit() if cancelled else job.failed.emit(message))
            job.ended.emit()
            self.jobs_changed.emit()

    def stop(self):
        """Cancel the jobs, let the current step finish and end the thread; safe to call twice."""
        self.cancel_all()
        if self._thread.isRunning():
            self._thread.quit()
            self._thread.wait()
