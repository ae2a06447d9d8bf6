"""Recovery files: the explorer's work on each model, saved as a session after every change, so
that quitting, a crash, or opening another network loses nothing. No Qt, no torch.

One file per model, named by its fingerprint, in the folder the window gives (the app's data
folder, QStandardPaths.AppDataLocation/recovery). A file is an ordinary session
(core/session_file.py) plus the time it was written; opening the model again restores it.
"""
import os
import time

from core.errors import StylescopeError
from core.session_file import read_session, write_session


class RecoveryStore:
    def __init__(self, folder):
        self.folder = os.fspath(folder)

    def path_for(self, fingerprint):
        safe = ''.join(ch for ch in str(fingerprint) if ch.isalnum()) or 'unknown'
        return os.path.join(self.folder, f'{safe}.session.json')

    def save(self, fingerprint, session):
        """Write the session for this model (atomically); returns the path."""
        os.makedirs(self.folder, exist_ok=True)
        path = self.path_for(fingerprint)
        write_session(path, dict(session, recovery_saved_at=time.time()))
        return path

    def load(self, fingerprint):
        """The session saved for this model, or None (none, or a damaged one: set aside, never
        an error at start-up)."""
        path = self.path_for(fingerprint)
        if not os.path.isfile(path):
            return None
        try:
            return read_session(path)
        except StylescopeError:
            os.replace(path, path + '.damaged')
            return None

    def discard(self, fingerprint):
        path = self.path_for(fingerprint)
        if os.path.exists(path):
            os.remove(path)
