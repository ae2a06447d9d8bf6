"""Linux first start: missing X11 (xcb) libraries are named in one sentence with the apt line."""
import pytest

from core.errors import StylescopeError
from explorer.platform_check import XCB_LIBRARIES, check_xcb, uses_xcb


def test_only_an_xcb_session_is_checked():
    assert uses_xcb('linux', {}) and uses_xcb('linux', {'QT_QPA_PLATFORM': 'xcb'})
    assert not uses_xcb('linux', {'QT_QPA_PLATFORM': 'offscreen'})
    assert not uses_xcb('linux', {'WAYLAND_DISPLAY': 'wayland-0'})
    assert uses_xcb('linux', {'WAYLAND_DISPLAY': 'wayland-0', 'QT_QPA_PLATFORM': 'xcb'})
    assert not uses_xcb('darwin', {}) and not uses_xcb('win32', {})
    check_xcb('linux', {'QT_QPA_PLATFORM': 'offscreen'}, loads=lambda name: False)  # not asked: no error


def test_missing_libraries_are_one_sentence_with_the_apt_line():
    present = {'libxcb-cursor.so.0', 'libEGL.so.1'}
    with pytest.raises(StylescopeError) as caught:
        check_xcb('linux', {}, loads=lambda name: name in present)
    text = str(caught.value)
    assert '\n' not in text and "sudo apt install libxcb-icccm4 libxcb-keysyms1" in text
    assert 'libxcb-cursor0' not in text and 'libegl1' not in text
    check_xcb('linux', {}, loads=lambda name: name in XCB_LIBRARIES)  # all there: no error
