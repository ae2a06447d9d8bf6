"""Help > First steps and Help > Keyboard shortcuts: one dialog with a page each. The shortcut
list is made from the window's own actions, so it always says what the keys do."""
import html

from PyQt6.QtGui import QKeySequence
from PyQt6.QtWidgets import QDialog, QTabWidget, QTextBrowser, QVBoxLayout

from explorer.widgets import button_row, push_button

FIRST_STEPS = '''
<h3>First steps</h3>
<ol>
<li><b>Browse faces.</b> Change the <i>Seed</i> (the arrows, <b>[</b> and <b>]</b>, or Random): each
seed is one picture, the same one <code>generate --seeds</code> and NVIDIA's tools draw.</li>
<li><b>Truncation.</b> <i>psi</i> pulls the picture toward the average face: 0.7 (the start) gives
clean, typical faces; 1 shows the model as trained, with more variety and more flaws.</li>
<li><b>Edit.</b> Each slider in <i>Directions</i> moves the picture along one direction, in its own
unit (σ: standard deviations of the model's faces along it). Named directions come first; PC0, PC1...
are the main ways the model's faces vary, SeFa0... the main ways its layers can change a face. The
small range slider under each picks the layers it reaches: <b>C</b>oarse (pose, face shape),
<b>M</b>iddle (features), <b>F</b>ine (colour, texture). "at +x" is where the picture lies along it.</li>
<li><b>Mix styles.</b> In <i>Style mixing</i>, add a seed or a favourite and tick the rows it
should give: the coarse rows of another face give its pose and shape.</li>
<li><b>Keep what you like.</b> <i>Add favourite</i> (Ctrl+D) stores the picture with everything that
made it; Ctrl+Z undoes any change; <b>B</b> shows the unedited picture. Your work on each model is
kept when you quit and comes back when you open it again; File &gt; Save session writes it to a file.</li>
<li><b>Your own photo.</b> File &gt; Project a photo: click the eyes and mouth corners, project,
and every slider edits it.</li>
<li><b>Share.</b> Save the picture (Ctrl+S), its latent (Ctrl+Alt+S) or a video (Ctrl+Shift+E).</li>
</ol>
<p>Also from the command line: <code>python main.py --help</code>.</p>
'''


def shortcuts_html(actions):
    """An HTML table of every action that has a key, in the order the window defines them."""
    rows = []
    for action in actions.values():
        keys = ', '.join(k.toString(QKeySequence.SequenceFormat.NativeText) for k in action.shortcuts())
        if keys:
            rows.append(f'<tr><td><b>{html.escape(keys)}</b></td><td>&nbsp;&nbsp;'
                        f"{html.escape(action.text().replace('&', ''))}</td></tr>")
    return '<h3>Keyboard shortcuts</h3><table>' + ''.join(rows) + '</table>'


class HelpDialog(QDialog):
    def __init__(self, actions, parent=None, page=0):
        super().__init__(parent)
        self.setWindowTitle('Stylescope help')
        self.tabs = QTabWidget()
        for title, text in (('First steps', FIRST_STEPS), ('Keyboard shortcuts', shortcuts_html(actions))):
            browser = QTextBrowser()
            browser.setHtml(text)
            browser.setOpenExternalLinks(False)
            self.tabs.addTab(browser, title)
        self.tabs.setCurrentIndex(page)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs)
        layout.addLayout(button_row(push_button('Close', self.close, default=True)))
        self.resize(620, 560)
