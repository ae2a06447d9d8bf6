"""The explorer window's actions, menus and toolbar: one table of what a user can do (text,
shortcuts, tip) and where each appears. The window owns the slots; this module names and places
them, so a new command is one line in `build_actions` and one in a menu list."""
import os

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QAction, QActionGroup, QKeySequence
from PyQt6.QtWidgets import QToolBar

TOOLBAR = (('open', 'Open'), ('undo', 'Undo'), ('redo', 'Redo'), None, ('save_image', 'Save image'),
           ('video', 'Video'), ('favourite', '★ Favourite'), None, ('random_seed', 'Random'), ('prev_seed', '◀'),
           ('next_seed', '▶'), ('ab', 'A/B'), ('reset', 'Reset'), None, ('fit', 'Fit'), ('actual', '1:1'),
           ('help', 'Help'))  # in the order they matter: a narrow window hides the last ones first
MENUS = (  # (menu title, action keys; None a separator, 'recent' the recent-files submenu)
    ('&File', ('open', 'open_run', 'recent', 'open_bundled', 'back_to_source', None, 'project', 'quiz', None,
               'load_session', 'save_session', None, 'save_image', 'save_ws', 'video', None, 'quit')),
    ('&Edit', ('undo', 'redo', None, 'copy', 'paste', None, 'reset')),
    ('&Latent', ('prev_seed', 'next_seed', 'random_seed', None, 'load_w', 'favourite', 'difference')),
    ('&View', ('ab', None, 'fit', 'actual', 'zoom_in', 'zoom_out', 'pixels', 'precision', None, 'docks')),
    ('&Help', ('help', 'shortcuts')),
)
PRECISION_CHOICES = (
    ('auto', '&Auto: bf16 while dragging where faster, fp32 at rest',
     'While a slider moves, draw in bfloat16 if this CPU is faster at it (about twice as fast with AVX512-BF16 '
     'or AMX); every picture at rest, saved or exported is drawn in fp32'),
    ('fp32', '&fp32 always', 'Every frame in float32: the exact pictures, at full cost'),
    ('bf16', '&bf16 always', 'Every frame in bfloat16 from the 32x32 layers up: fastest on such a CPU, within '
                             'a few grey levels of fp32'),
)
MAX_RECENT = 8


def make_action(window, text, slot, shortcuts=(), tip=None, checkable=False):
    """A window-wide QAction (its shortcuts work whichever panel has focus)."""
    action = QAction(text, window)
    if shortcuts:
        action.setShortcuts([QKeySequence(s) for s in shortcuts])
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
    if tip:
        action.setToolTip(tip)
        action.setStatusTip(tip)
    action.setCheckable(checkable)
    (action.toggled if checkable else action.triggered).connect(slot)
    window.addAction(action)
    return action


def build_actions(w):
    """Every command of the window `w` (a MainWindow) as {key: QAction}."""
    def A(*args, **kwargs):
        return make_action(w, *args, **kwargs)
    a = {}
    a['open'] = A('&Open network...', lambda: w.open_network_dialog(), ['Ctrl+O'],
                  'Open a network file: official or TensorFlow .pkl, rosinality .pt, Stylescope .safetensors')
    a['open_run'] = A('Open training &run folder...', lambda: w.open_run_folder_dialog(), (),
                      "Open a training run folder's newest snapshot")
    a['open_bundled'] = A('Open &bundled model', lambda: w.open_network(None), (),
                          'Back to the model that ships with Stylescope')
    a['back_to_source'] = A('Back to &source model', lambda: w.back_to_source(), (),
                            'Open the network this tuned (PTI) network was made from; the picture, sliders and '
                            'favourites stay')
    a['back_to_source'].setEnabled(False)
    a['help'] = A('&First steps', lambda: w.open_help(0), ['F1'])
    a['shortcuts'] = A('&Keyboard shortcuts', lambda: w.open_help(1), ['Ctrl+/'])
    a['load_session'] = A('&Load session...', lambda: w.load_session(), ['Ctrl+Shift+O'])
    a['save_session'] = A('Save &session...', lambda: w.save_session(), ['Ctrl+Shift+S'])
    a['save_image'] = A('Save &image (PNG)...', lambda: w.save_image(), ['Ctrl+S'],
                        'Save the picture as PNG with the editing state in its metadata')
    a['save_ws'] = A('Save &w (.npz)...', lambda: w.save_ws(), ['Ctrl+Alt+S'],
                     "Save the edited ws as .npz (key 'w', [1, num_ws, w_dim], as the official projector)")
    a['video'] = A('Export &video...', lambda: w.open_video_dialog(), ['Ctrl+Shift+E'])
    a['project'] = A('&Project a photo...', lambda: w.open_projection_dialog(), ['Ctrl+P'],
                     'Find the w of a photo: click its eyes and mouth, project, then edit it with every slider')
    a['quiz'] = A('"Which face is &real?" quiz...', lambda: w.open_quiz_dialog(), (),
                  'Real photos from a dataset beside faces this network draws: can you tell them apart?')
    a['quit'] = A('&Quit', w.close, ['Ctrl+Q'])
    a['undo'] = A('&Undo', w.model.undo, ['Ctrl+Z'])
    a['redo'] = A('&Redo', w.model.redo, ['Ctrl+Shift+Z', 'Ctrl+Y'])
    a['copy'] = A('&Copy latent', lambda: w.latent_panel.copy_latent(), ['Ctrl+Shift+C'])
    a['paste'] = A('&Paste latent', lambda: w.latent_panel.paste_latent(), ['Ctrl+Shift+V'])
    a['reset'] = A('Reset &edits', lambda: w.model.set_state(w.model.state.reset_edits()), ['Ctrl+0'],
                   'Every direction slider back to 0')
    a['prev_seed'] = A('&Previous seed', lambda: w.latent_panel.step_seed(-1), ['Alt+Left', '['])
    a['next_seed'] = A('&Next seed', lambda: w.latent_panel.step_seed(1), ['Alt+Right', ']'])
    a['random_seed'] = A('&Random seed', w.latent_panel.random_seed, ['Ctrl+R'])
    a['load_w'] = A('&Load w...', lambda: w.latent_panel.load_w_file())
    a['favourite'] = A('Add &favourite', lambda: w.history_panel.add_favourite(), ['Ctrl+D'])
    a['difference'] = A('Direction &A → B...', lambda: w.directions_panel.open_difference())
    a['ab'] = A('Show &original (A/B)', w.model.set_show_original, ['B'],
                'Toggle between the edited and the unedited picture', checkable=True)
    a['fit'] = A('&Fit', w.image_view.fit, ['F'])
    a['actual'] = A('&1:1', w.image_view.actual_size, ['1'])
    a['zoom_in'] = A('Zoom &in', w.image_view.zoom_in, ['+', '=', 'Ctrl+='])
    a['zoom_out'] = A('Zoom &out', w.image_view.zoom_out, ['-', 'Ctrl+-'])
    a['pixels'] = A('Show &pixels', w.set_show_pixels, ['P'],
                    'Enlarge the picture as blocks of single pixels instead of smoothly', checkable=True)
    a['undo'].setEnabled(False)
    a['redo'].setEnabled(False)
    return a


def build_menus(w, actions, recent, docks):
    """The menu bar of `w` from MENUS. recent: a RecentNetworks (its submenu goes under File);
    docks: the panels, whose show/hide toggles end the View menu. Returns View > Precision."""
    precision_menu = None
    for title, keys in MENUS:
        menu = w.menuBar().addMenu(title)
        for key in keys:
            if key is None:
                menu.addSeparator()
            elif key == 'recent':
                menu.addMenu(recent.menu)
            elif key == 'precision':
                precision_menu = menu.addMenu('P&recision')
            elif key == 'docks':
                for dock in docks:
                    menu.addAction(dock.toggleViewAction())
            else:
                menu.addAction(actions[key])
    return precision_menu


def build_toolbar(w, actions):
    toolbar = QToolBar('Main')
    toolbar.setObjectName('main toolbar')
    toolbar.setMovable(False)
    for item in TOOLBAR:
        if item is None:
            toolbar.addSeparator()
            continue
        key, label = item
        actions[key].setIconText(label)  # short on the toolbar; the menus keep the full text
        toolbar.addAction(actions[key])
    w.addToolBar(toolbar)
    return toolbar


def add_shortcut_tips(actions):
    """Each tooltip ends with its shortcut, as the platform writes it."""
    for key, action in actions.items():
        if action.shortcut().toString() and key != 'quit':
            tip = action.toolTip() or action.text().replace('&', '')
            action.setToolTip(f'{tip} ({action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)})')


def build_precision_actions(w, menu, choose):
    """View > Precision's exclusive choices (core.precision's settings) as {key: QAction};
    choose(key) runs when one is picked."""
    group = QActionGroup(w)
    actions = {}
    for key, text, tip in PRECISION_CHOICES:
        action = QAction(text, w, checkable=True)
        action.setStatusTip(tip)
        action.setToolTip(tip)
        action.triggered.connect(lambda checked, key=key: choose(key))
        group.addAction(action)
        menu.addAction(action)
        actions[key] = action
    menu.setToolTipsVisible(True)
    return actions


class RecentNetworks:
    """File > Open recent: the last MAX_RECENT networks opened, newest first, kept in QSettings."""

    def __init__(self, settings, menu, open_network):
        self.settings, self.menu, self.open_network = settings, menu, open_network
        self.menu.setTitle('Open &recent')
        self.refresh()

    def paths(self):
        value = self.settings.value('recent_networks', [])
        if isinstance(value, str):  # QSettings gives a one-item list back as a string
            value = [value]
        return [p for p in (value or []) if p]

    def remember(self, path):
        path = os.path.abspath(path)
        recent = [path] + [p for p in self.paths() if p != path]
        self.settings.setValue('recent_networks', recent[:MAX_RECENT])
        self.refresh()

    def refresh(self):
        self.menu.clear()
        for path in self.paths():
            action = self.menu.addAction(path)
            action.triggered.connect(lambda _=False, p=path: self.open_network(p))
        self.menu.setEnabled(bool(self.paths()))
