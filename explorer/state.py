"""The explorer's model, without Qt and without torch: the current editing state (an EditState),
its undo history, the A/B toggle, the drag in progress, favourites, sessions and the open
network's facts, and the RenderRequest all of that implies.

`EditorModel` is evented as napari's models are: plain Python, `model.events.<name>.connect(cb)`,
one event per field of the state, so each Qt view binds to what it shows. A slider drag is one
undo step: changes with the same Gesture merge until `end_gesture()`. Sessions are JSON files
(core/session_file.py) holding the state, the favourites and the model fingerprint; loading one
made for another model warns.
"""
import dataclasses
import os

import numpy as np

from core import session_file as sessions
from core.direction_set import DirectionSet
from core.errors import StylescopeError
from core.session_file import read_session
from explorer.drag_preview import preview_resolution
from explorer.edit_state import EditState, Favourite, without_unfit_maps
from explorer.events import Events

MAX_UNDO = 200
MAX_PICTURES = 30  # drawn undo states remembered with their ws, as ends of "A -> B"
DEFAULT_PSI = 0.7  # what most StyleGAN tools open with: the model's good side; 1 is one click away
STATE_FIELDS = tuple(field.name for field in dataclasses.fields(EditState))


class EditorModel:
    """The explorer's model: current state, undo / redo, A/B, favourites, network facts.

    events: state(new, old) after every change of the state (edits, undo, redo, loads: what the
    picture is drawn from changed); then one event per EditState field that changed, named as the
    field (seed, w, w_label, class_idx, psi, cutoff, directions, alphas, mixing, noise,
    noise_maps; each with the new state), and edited(state) when state.is_edited flips; so a view
    subscribes to what it shows and a slider tick refreshes only the views of that slider.
    history(can_undo, can_redo); original(showing_original); dragging(is_dragging);
    favourites(list); labels(dict); network(info dict);
    capture(layer name or None): the layer viewer's layer, which every request asks the render for.

    `labels` keeps the samples a user labelled per attribute name ({name: ((seed, class_idx,
    label), ...)}), so a refit adds to them and a session keeps them. `unsaved`: there is work
    (favourites, directions, labels, edits) changed since the last save or load of a session."""

    def __init__(self, state=None, max_undo=MAX_UNDO):
        self.events = Events('state', *STATE_FIELDS, 'edited', 'history', 'original', 'dragging', 'favourites',
                             'labels', 'network', 'precision', 'capture')
        self.labels = {}
        self.revision = self.saved_revision = 0
        self._opened_directions = None
        self._state = state or EditState()
        self._undo, self._redo = [], []
        self._gesture = None
        self.max_undo = max_undo
        self.show_original = False
        self.dragging = False
        self.precision = 'auto'  # core.precision's setting of every frame (a view setting, not undone)
        self.capture_layer = None  # the synthesis layer the layer viewer shows (a view setting, not undone)
        self.favourites = []
        self.network = None
        self._pictures = []  # (state, ws, thumbnail) of recent full frames: remember_picture

    @property
    def state(self):
        return self._state

    @property
    def gesture(self):
        """The Gesture in progress (a slider drag), or None."""
        return self._gesture

    # -- changing the state
    def set_state(self, new, gesture=None):
        """Make `new` the current state. Changes with the same non-None `gesture` in a row (a
        slider drag) become one undo step, until `end_gesture()` or another kind of change."""
        if new is self._state:
            return
        if gesture is None or gesture != self._gesture:
            self._undo.append(self._state)
            del self._undo[:-self.max_undo]
            self._redo.clear()
        self._gesture = gesture
        self._set(new)

    def update(self, gesture=None, **changes):
        """set_state(state.replace(**changes)); nothing happens when nothing changes."""
        if all(_same(getattr(self._state, key), value) for key, value in changes.items()):
            return
        self.set_state(self._state.replace(**changes), gesture)

    def end_gesture(self):
        self._gesture = None

    def undo(self):
        if self._undo:
            self._redo.append(self._state)
            self._gesture = None
            self._set(self._undo.pop())

    def redo(self):
        if self._redo:
            self._undo.append(self._state)
            self._gesture = None
            self._set(self._redo.pop())

    @property
    def can_undo(self):
        return bool(self._undo)

    @property
    def can_redo(self):
        return bool(self._redo)

    @property
    def undo_depth(self):
        """(undo steps, redo steps) available."""
        return len(self._undo), len(self._redo)

    def reset(self, state):
        """A fresh start (a new network): `state` with an empty history."""
        self._pictures.clear()
        self._undo.clear()
        self._redo.clear()
        self._gesture = None
        self._set(state)

    def remember_picture(self, state, ws, thumbnail=None):
        """The exact ws [num_ws, w_dim] a full frame of `state` was drawn from (the renderer's,
        so no torch here), kept for the last MAX_PICTURES states: undo steps can then be ends of
        "A -> B" as favourites are."""
        kept = [p for p in self._pictures if p[0] is not state][-(MAX_PICTURES - 1):]
        self._pictures = kept + [(state, np.asarray(ws, dtype=np.float32), thumbnail)]

    def history_pictures(self):
        """[(steps back, state, ws, thumbnail)] of the undo steps whose picture was drawn, newest first."""
        found = []
        for back, state in enumerate(reversed(self._undo), 1):
            hit = next((p for p in self._pictures if p[0] is state), None)
            if hit is not None:
                found.append((back, state, hit[1], hit[2]))
        return found

    def _set(self, new):
        old, self._state = self._state, new
        self.revision += 1
        self.events.state.emit(new, old)
        for name in STATE_FIELDS:
            if not _same(getattr(old, name), getattr(new, name)):
                getattr(self.events, name).emit(new)
        if old.is_edited != new.is_edited:
            self.events.edited.emit(new)
        self.events.history.emit(self.can_undo, self.can_redo)

    # -- what the picture is drawn from now
    def render_request(self, last_full_ms=0.0, full=False):
        """The RenderRequest of the picture now: while a slider is dragged, a draft (with precision
        'auto', bf16 where the CPU is faster at it), and when a full frame took `last_full_ms`
        (slow), a preview (explorer/drag_preview.py); the full image after the drag or with
        `full`. With the A/B toggle on, the unedited picture."""
        resolution = None
        draft = self.dragging and not full
        if draft:
            resolution = preview_resolution(self.network, self._gesture, last_full_ms)
        common = dict(original=self.show_original, precision=self.precision, draft=draft)
        if resolution is None:
            return self._with_capture(self._state.request(**common))
        return self._with_capture(self._state.request(preview=True, preview_resolution=resolution,
                                                      preview_always=True, **common))

    def _with_capture(self, request):
        return request if self.capture_layer is None else request.replace(capture=self.capture_layer)

    # -- view toggles (not part of the undo history)
    def set_show_original(self, on):
        if bool(on) != self.show_original:
            self.show_original = bool(on)
            self.events.original.emit(self.show_original)

    def set_capture_layer(self, name):
        """The synthesis layer whose output every frame's result carries (the layer viewer), or None."""
        if name != self.capture_layer:
            self.capture_layer = name
            self.events.capture.emit(name)

    def set_precision(self, precision):
        """'auto' | 'fp32' | 'bf16' (core.precision.PRECISIONS) for every frame from now on."""
        if precision != self.precision:
            self.precision = precision
            self.events.precision.emit(precision)

    def set_dragging(self, on):
        if bool(on) != self.dragging:
            self.dragging = bool(on)
            if not on:
                self.end_gesture()
            self.events.dragging.emit(self.dragging)

    # -- network
    def set_network(self, info, keep_state=False):
        """A network was opened: info holds num_ws, w_dim, c_dim, fingerprint... The history and
        favourites start afresh unless `keep_state` (the same model again)."""
        self.network = {k: v for k, v in info.items() if k != 'directions'}
        fresh = EditState(psi=DEFAULT_PSI)
        if info.get('directions') is not None:  # the network's own direction file: sliders from the start
            fresh = fresh.add_directions(info['directions'])
        state, _warnings = (self._state if keep_state else fresh).fitted_to(
            info['num_ws'], info['w_dim'], info['c_dim'], info.get('noise_layers'), info.get('kind') == 'stylegan3',
            _style_channels(info))
        if not keep_state:
            self.favourites, self.labels = [], {}
            self.events.favourites.emit(self.favourites)
            self.events.labels.emit(self.labels)
        self.reset(state)
        self._opened_directions = state.directions
        self.saved_revision = self.revision  # a network as it opens holds nothing to save yet
        self.events.network.emit(self.network)

    def _favourites_changed(self):
        self.revision += 1
        self.events.favourites.emit(self.favourites)

    # -- labels
    def set_labels(self, name, samples):
        """The labelled samples of attribute `name`: (seed, class_idx or None, label 0/1) each."""
        self.labels = {**self.labels, str(name): tuple((int(seed), None if k is None else int(k), int(label))
                                                      for seed, k, label in samples)}
        self.revision += 1
        self.events.labels.emit(self.labels)

    @property
    def unsaved(self):
        """Is there work not in a session file: changed since the last save or load, and more than
        a seed and a slider position (favourites, directions, labels)?"""
        directions = self._state.directions
        made = directions is not None and directions is not self._opened_directions  # computed, imported, labelled
        has_work = bool(self.favourites or self.labels or made)
        return has_work and self.revision != self.saved_revision

    # -- favourites
    def add_favourite(self, ws, thumbnail=None, name=None, state=None):
        name = name or _unique_name('favourite', [f.name for f in self.favourites])
        fav = Favourite(name, state or self._state, np.array(ws, dtype=np.float32), thumbnail)
        self.favourites = self.favourites + [fav]
        self._favourites_changed()
        return fav

    def remove_favourite(self, index):
        self.favourites = self.favourites[:index] + self.favourites[index + 1:]
        self._favourites_changed()

    def rename_favourite(self, index, name):
        name = str(name).strip()
        if not name:
            raise StylescopeError('a favourite needs a name: type at least one character')
        self.favourites = list(self.favourites)
        self.favourites[index] = dataclasses.replace(self.favourites[index], name=name)
        self._favourites_changed()

    def restore_favourite(self, index):
        """The favourite's state becomes the current one (an undoable step)."""
        self.set_state(self.favourites[index].state)

    # -- sessions
    def session_dict(self):
        """The session as a JSON-ready dict (core/session_file.py). Noise maps go to one table,
        {digest: {layer: array}}, which the state and favourites name by digest: a projected latent
        that is both the picture and a favourite is stored once. They are float32, so a reloaded
        session draws the same pixels, and they are large: a 1024 model's maps are 2.8 M floats,
        11 MiB, about 15 MB of base64 in the file per projected latent (a 256 model: 1 MB; 64 px:
        60 kB). Sessions without maps, and older ones whose states have no `noise_maps` key, load
        as they are."""
        maps = {}
        state = self._state.to_dict(maps_table=maps)
        favourites = [f.to_dict(maps_table=maps) for f in self.favourites]
        session = sessions.session_dict(self.network or {}, state, favourites, maps)
        if self.labels:
            session['labels'] = {name: [list(sample) for sample in samples] for name, samples in self.labels.items()}
        return session

    def save_session(self, path):
        sessions.write_session(path, self.session_dict())
        self.saved_revision = self.revision

    # -- a restore that can be taken back
    def snapshot(self):
        """Everything a session restore replaces, to put back with restore_snapshot."""
        return (self._state, list(self.favourites), dict(self.labels), list(self._undo), list(self._redo))

    def restore_snapshot(self, snapshot):
        state, favourites, labels, undo, redo = snapshot
        self.favourites, self.labels = list(favourites), dict(labels)
        self.events.favourites.emit(self.favourites)
        self.events.labels.emit(self.labels)
        self._undo, self._redo, self._gesture = list(undo), list(redo), None
        self._set(state)

    def load_session(self, path):
        """Replace the state (an undoable step), the favourites and the labels with a session
        file's. Returns a list of warnings (another model, parts that do not fit this network)."""
        warnings = self.apply_session(read_session(path), os.fspath(path))
        self.saved_revision = self.revision
        return warnings

    def apply_session(self, session, where='the session'):
        info = self.network or {}
        warnings = []
        saved_for = (session.get('model') or {}).get('fingerprint')
        if saved_for and info.get('fingerprint') and saved_for != info['fingerprint']:
            warnings.append(f"{where} was saved with another model (fingerprint {saved_for}, this one is "
                            f"{info['fingerprint']}): seeds, favourites and directions may look different")
        table = session.get('noise_maps')
        table = dict(table) if isinstance(table, dict) else table  # our copy: decoded sets are kept in it
        state = EditState.from_dict(session['state'], table)
        favourites = [Favourite.from_dict(f, table) for f in session.get('favourites', ())]
        if self.network is not None:
            state, more = state.fitted_to(info['num_ws'], info['w_dim'], info['c_dim'], info.get('noise_layers'),
                                          info.get('kind') == 'stylegan3', _style_channels(info))
            warnings += more
            kept = [f for f in favourites if f.ws.shape == (info['num_ws'], info['w_dim'])]
            if len(kept) < len(favourites):
                warnings.append(f'{len(favourites) - len(kept)} favourites do not fit this network and were left out')
            favourites, unfit = [], []
            for f in kept:
                fitted, problem = without_unfit_maps(f.state, info.get('noise_layers'))
                favourites.append(dataclasses.replace(f, state=fitted))
                if problem is not None:
                    unfit.append(f"'{f.name}'")
            if len(unfit) == 1:
                warnings.append(f"the favourite {unfit[0]} is drawn with the network's own noise: its noise maps "
                                'do not fit this network')
            elif unfit:
                warnings.append(f"the favourites {', '.join(unfit)} are drawn with the network's own noise: their "
                                'noise maps do not fit this network')
        self.set_state(state)
        self.favourites = favourites
        self._favourites_changed()
        labels = session.get('labels') or {}
        try:
            self.labels = {str(name): tuple((int(seed), None if k is None else int(k), int(label))
                                            for seed, k, label in samples) for name, samples in labels.items()}
        except (TypeError, ValueError, AttributeError):
            self.labels = {}
            warnings.append(f'the labelled samples in {where} are damaged and were left out')
        self.events.labels.emit(self.labels)
        return warnings


def _style_channels(info):
    """{layer: channels} of the network's modulated layers (network_info's 'style_layers'), or None."""
    layers = info.get('style_layers')
    return None if layers is None else {row['name']: row['channels'] for row in layers}


def _same(a, b):
    if a is b:
        return True
    if isinstance(a, (DirectionSet, np.ndarray)) or isinstance(b, (DirectionSet, np.ndarray)):
        return False
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


def _unique_name(base, taken):
    n = len(taken) + 1
    while f'{base} {n}' in taken:
        n += 1
    return f'{base} {n}'
