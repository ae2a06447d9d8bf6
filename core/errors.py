"""The one exception type for bad user input.

Its message is a single sentence that names the file (or value) at fault and how to fix it;
the CLI prints it without a traceback and the GUI shows it in a dialog.
"""
import re


class StylescopeError(Exception):
    """Bad input from the user: missing or corrupt file, wrong format, wrong shape, bad value."""


def one_line(message, longest=200):
    """A message as the command line prints it: one line whatever a library put in it, and any
    run of more than `longest` characters without a space (a value pasted back, such as 5,000
    digits) cut to its two ends, so the sentence stays one that can be read."""
    text = ' '.join(str(message).split())
    return re.sub(r'\S{%d,}' % (longest + 1), lambda m: f'{m.group()[:120]}...{m.group()[-40:]}', text)


def short_reason(error):
    """A library's exception as a clause for one of our sentences: its first line, at most 120
    characters (some messages run to dozens of lines), or its type's name when it says nothing."""
    text = str(error).splitlines()[0][:120].rstrip('.') if str(error).strip() else ''
    return text or type(error).__name__


class Cancelled(Exception):
    """Long work (sampling, export, training, projection) stopped because the user cancelled it."""


def is_cancelled(cancel):
    """True when `cancel` (None, a threading.Event or a callable returning bool) says stop."""
    if cancel is None:
        return False
    return cancel.is_set() if hasattr(cancel, 'is_set') else bool(cancel())
