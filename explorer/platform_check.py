"""Before the first window on Linux: are the system libraries Qt's `xcb` platform plugin needs
there? pip installs Qt itself, not these; without them Qt aborts with a message that names only
one of them (xcb-cursor0), often not the one missing. No Qt is imported here.
"""
import ctypes
import os
import sys

from core.errors import StylescopeError

# shared library -> the Debian / Ubuntu package that holds it
XCB_LIBRARIES = {
    'libxcb-cursor.so.0': 'libxcb-cursor0',
    'libxcb-icccm.so.4': 'libxcb-icccm4',
    'libxcb-keysyms.so.1': 'libxcb-keysyms1',
    'libxcb-image.so.0': 'libxcb-image0',
    'libxcb-render-util.so.0': 'libxcb-render-util0',
    'libxcb-xkb.so.1': 'libxcb-xkb1',
    'libxkbcommon-x11.so.0': 'libxkbcommon-x11-0',
    'libEGL.so.1': 'libegl1',
}


def uses_xcb(platform=sys.platform, environ=os.environ):
    """Will Qt open its windows through xcb (X11)? Not on other systems, not with another
    QT_QPA_PLATFORM (offscreen, wayland), and not on a Wayland session unless xcb is asked for."""
    if not platform.startswith('linux'):
        return False
    chosen = environ.get('QT_QPA_PLATFORM', '')
    if chosen:
        return chosen.split(':')[0] == 'xcb'
    return not environ.get('WAYLAND_DISPLAY')


def _loads(name):
    try:
        ctypes.CDLL(name)
    except OSError:
        return False
    return True


def missing_xcb_packages(loads=_loads):
    """The packages of the xcb libraries that cannot be loaded, in XCB_LIBRARIES order."""
    return [package for library, package in XCB_LIBRARIES.items() if not loads(library)]


def check_xcb(platform=sys.platform, environ=os.environ, loads=_loads):
    """Raise one sentence naming the missing packages and the apt line that installs them."""
    if not uses_xcb(platform, environ):
        return
    missing = missing_xcb_packages(loads)
    if missing:
        raise StylescopeError(f"the window cannot open: this system lacks {', '.join(missing)}, the libraries Qt's "
                              f"X11 (xcb) plugin needs, which pip cannot install: run 'sudo apt install "
                              f"{' '.join(missing)}' (Debian, Ubuntu) and start Stylescope again")
