"""The one exception type for bad user input.

Its message is a single sentence that names the file (or value) at fault and how to fix it;
the CLI prints it without a traceback and the GUI shows it in a dialog.
"""


class StylescopeError(Exception):
    """Bad input from the user: missing or corrupt file, wrong format, wrong shape, bad value."""


class Cancelled(Exception):
    """Long work (sampling, export, training, projection) stopped because the user cancelled it."""


def is_cancelled(cancel):
    """True when `cancel` (None, a threading.Event or a callable returning bool) says stop."""
    if cancel is None:
        return False
    return cancel.is_set() if hasattr(cancel, 'is_set') else bool(cancel())
