"""The one exception type for bad user input.

Its message is a single sentence that names the file (or value) at fault and how to fix it;
the CLI prints it without a traceback and the GUI shows it in a dialog.
"""


class StylescopeError(Exception):
    """Bad input from the user: missing or corrupt file, wrong format, wrong shape, bad value."""
