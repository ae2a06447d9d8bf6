"""File dialogs that open where a user keeps such files, and remember the last folder per kind.

The first dialog of a kind starts in the user's Pictures, Videos or Documents folder
(QStandardPaths), never in the folder the program happens to run from (pressing Enter would write
into a source checkout); after that, in the folder last used for that kind (QSettings).
"""
import os

from PyQt6.QtCore import QStandardPaths
from PyQt6.QtWidgets import QFileDialog

_Location = QStandardPaths.StandardLocation
KINDS = {
    'network': _Location.DocumentsLocation,
    'session': _Location.DocumentsLocation,
    'directions': _Location.DocumentsLocation,
    'labels': _Location.DocumentsLocation,
    'dataset': _Location.DocumentsLocation,
    'quiz_results': _Location.DocumentsLocation,
    'w': _Location.DocumentsLocation,
    'image': _Location.PicturesLocation,
    'photo': _Location.PicturesLocation,
    'video': _Location.MoviesLocation,
}


class FileDialogs:
    """The explorer's open / save dialogs, sharing the window's settings."""

    def __init__(self, settings):
        self.settings = settings

    def folder(self, kind):
        """Where a dialog of `kind` starts: the last folder used for it, else the user's folder for
        such files (home when the system names none)."""
        last = self.settings.value(f'folders/{kind}', '', type=str)
        if last and os.path.isdir(last):
            return last
        standard = QStandardPaths.writableLocation(KINDS[kind])
        return standard if standard and os.path.isdir(standard) else os.path.expanduser('~')

    def remember(self, kind, path):
        folder = path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
        self.settings.setValue(f'folders/{kind}', folder)

    def open_file(self, parent, kind, title, filt):
        path, _ = QFileDialog.getOpenFileName(parent, title, self.folder(kind), filt)
        return self._chosen(kind, path)

    def open_folder(self, parent, kind, title):
        path = QFileDialog.getExistingDirectory(parent, title, self.folder(kind))
        return self._chosen(kind, path)

    def save_file(self, parent, kind, title, filt, name):
        """(path or None, the filter chosen) for a new file, proposed as `name` in the kind's folder."""
        path, chosen = QFileDialog.getSaveFileName(parent, title, os.path.join(self.folder(kind), name), filt)
        return self._chosen(kind, path), chosen

    def _chosen(self, kind, path):
        if not path:
            return None
        self.remember(kind, path)
        return path


def model_stem(info):
    """'ffhq' for a network opened from ffhq.pkl: the start of the file names proposed for it."""
    name = (info or {}).get('name') or 'stylescope'
    return os.path.splitext(name)[0].replace(' ', '-') or 'stylescope'
