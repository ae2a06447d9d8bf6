""""Which face is real?" in the explorer: real photos from a dataset the user opens beside faces
the open network draws, round after round; the player clicks the ones they think are real. At the
end: the accuracy and how often a generated face was taken for real, each with a 95% interval,
a review of every mistake, and a line added to the results CSV.

The rounds and faces come from the `quiz_images` job (core.quiz: the same crop and resize for
real and generated faces); every face is shown at one size with one filter, so nothing but the
picture itself tells them apart. Pages: set up, play, score.
"""
import datetime
import os
import random

from PyQt6.QtCore import QRectF, QStandardPaths, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QFont, QPainter
from PyQt6.QtWidgets import (QComboBox, QDialog, QDoubleSpinBox, QFormLayout, QGridLayout, QHBoxLayout, QLabel,
                             QLineEdit, QScrollArea, QSpinBox, QStackedWidget, QVBoxLayout, QWidget)

from core.errors import StylescopeError
from core.quiz import LETTERS, append_results, result_row, score_quiz
from core.seeds import MAX_SEED
from explorer.widgets import JobBar, button_row, message, pixmap_from_array, push_button, seed_box

TILE = 192         # a face while playing, rounds of up to 4
SMALL_TILE = 150   # rounds of 6 or 8, in two rows
REVIEW_TILE = 112  # a mistake on the score page
REVIEW_COLS = 4
DATASET_FILTER = 'Dataset zips (*.zip)'
RESULTS_FILTER = 'Quiz results (*.csv)'
MARKED = '#2e9d3a'


def results_path(settings):
    """Where the results CSV is: the one the user picked (settings 'quiz/results'), else
    quiz_results.csv in the app's data folder."""
    path = settings.value('quiz/results', '', type=str)
    if path:
        return path
    data = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    return os.path.join(data or os.path.expanduser('~/.stylescope'), 'quiz_results.csv')


class FaceTile(QLabel):
    """One face of a round: a click marks it as real (green frame and tick), another unmarks it."""
    clicked = pyqtSignal()

    def __init__(self, size, letter='', parent=None):
        super().__init__(parent)
        self.size_px = size
        self.letter = letter
        self.marked = False
        self.image = None
        self.setFixedSize(size + 12, size + 12)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.set_marked(False)

    def set_image(self, image):
        self.image = image
        self.setPixmap(pixmap_from_array(image, self.size_px))

    def set_marked(self, marked):
        self.marked = bool(marked)
        colour, width = (MARKED, 5) if self.marked else ('#808080', 1)
        self.setStyleSheet(f'border: {width}px solid {colour}; background: #202020;')
        self.setToolTip(f'{self.letter}: marked real (click to unmark)' if self.marked
                        else f'{self.letter}: click if you think this face is real')
        self.update()

    def mousePressEvent(self, event):
        if event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit()

    def paintEvent(self, event):
        super().paintEvent(event)
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        font = QFont(painter.font())
        font.setBold(True)
        font.setPointSize(11)
        painter.setFont(font)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(0, 0, 0, 150))
        painter.drawRoundedRect(QRectF(8, 8, 22, 22), 4, 4)
        painter.setPen(QColor('white'))
        painter.drawText(QRectF(8, 8, 22, 22), Qt.AlignmentFlag.AlignCenter, self.letter)
        if self.marked:
            box = QRectF(self.width() - 62, 8, 54, 24)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(MARKED))
            painter.drawRoundedRect(box, 6, 6)
            painter.setPen(QColor('white'))
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter, '✓ real')
        painter.end()


class QuizDialog(QDialog):
    def __init__(self, model, client, files, settings, parent=None, rng=None):
        super().__init__(parent)
        self.setWindowTitle('Which face is real?')
        self.model, self.client, self.files, self.settings = model, client, files, settings
        self._rng = rng or random.Random()
        self.job = None
        self.plan = None
        self.images = None
        self.dataset = None
        self.marked = []      # per round played: the set of positions marked real
        self.current = set()  # this round's marks
        self.round = 0
        self.score = None
        self.saved_to = None
        self.tiles = []
        self.review_tiles = []
        self.stack = QStackedWidget()
        self.setup_page = self._build_setup()
        self.play_page = self._build_play()
        self.score_page = self._build_score()
        for page in (self.setup_page, self.play_page, self.score_page):
            self.stack.addWidget(page)
        layout = QVBoxLayout(self)
        layout.addWidget(self.stack)
        self.resize(4 * (TILE + 16) + 60, TILE + 330)

    # --- set up -------------------------------------------------------------------------------
    def _build_setup(self):
        page = QWidget()
        intro = QLabel('Real photos from a dataset beside faces the open network draws. Both are cropped and '
                       "resized the same way to the model's resolution, so only the faces themselves can tell "
                       'them apart. In every round half of the faces are real: click the ones you think are real.')
        intro.setWordWrap(True)
        self.data_edit = QLineEdit(self.settings.value('quiz/data', '', type=str))
        self.data_edit.setPlaceholderText('a dataset zip or a folder of images')
        self.data_edit.setToolTip('The real faces: a dataset zip (python main.py dataset makes one) or a folder of '
                                  'images, for example the one the network was trained on')
        data_row = QHBoxLayout()
        data_row.addWidget(self.data_edit, 1)
        data_row.addWidget(push_button('Zip...', self.choose_zip, tip='Choose a dataset zip'))
        data_row.addWidget(push_button('Folder...', self.choose_folder, tip='Choose a folder of images'))
        self.rounds_spin = QSpinBox()
        self.rounds_spin.setRange(1, 100)
        self.rounds_spin.setValue(self.settings.value('quiz/rounds', 10, type=int))
        self.per_round_combo = QComboBox()
        for n in (2, 4, 6, 8):
            self.per_round_combo.addItem(f'{n} ({n // 2} real)', n)
        self.per_round_combo.setCurrentIndex(max(0, self.per_round_combo.findData(
            self.settings.value('quiz/per_round', 4, type=int))))
        self.psi_spin = QDoubleSpinBox()
        self.psi_spin.setRange(-1.0, 2.0)
        self.psi_spin.setSingleStep(0.05)
        self.psi_spin.setDecimals(2)
        self.psi_spin.setValue(self.model.state.psi)
        self.psi_spin.setToolTip('Truncation of the generated faces: lower is more typical and cleaner, 1 shows '
                                 'the whole variety (starts at the picture\'s psi)')
        self.seed_spin = seed_box('Picks the real images, the generated seeds and their order: the same seed '
                                  'plays the same quiz again')
        self.seed_spin.setValue(self._rng.randrange(MAX_SEED + 1))
        self.results_label = QLabel()
        self.results_label.setWordWrap(True)
        self.results_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        results_row = QHBoxLayout()
        results_row.addWidget(self.results_label, 1)
        results_row.addWidget(push_button('Change...', self.choose_results, tip='Append the results to another CSV'))
        self._show_results_path()
        for box in (self.rounds_spin, self.per_round_combo, self.psi_spin, self.seed_spin):
            box.setMinimumWidth(140)
            box.setMaximumWidth(200)
        form = QFormLayout()
        form.addRow('Real faces', data_row)
        form.addRow('Rounds', self.rounds_spin)
        form.addRow('Faces per round', self.per_round_combo)
        form.addRow('Truncation psi', self.psi_spin)
        form.addRow('Seed', self.seed_spin)
        form.addRow('Results file', results_row)
        self.setup_job_bar = JobBar()
        self.start_button = push_button('Start', lambda: self.start(), default=True)
        layout = QVBoxLayout(page)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addStretch(1)
        layout.addWidget(self.setup_job_bar)
        layout.addLayout(button_row(push_button('Close', self.close), self.start_button))
        return page

    def _show_results_path(self):
        self.results_label.setText(results_path(self.settings))

    def choose_zip(self):
        path = self.files.open_file(self, 'dataset', 'Real faces: a dataset zip', DATASET_FILTER)
        if path:
            self.data_edit.setText(path)

    def choose_folder(self):
        path = self.files.open_folder(self, 'dataset', 'Real faces: a folder of images')
        if path:
            self.data_edit.setText(path)

    def choose_results(self):
        path, _ = self.files.save_file(self, 'quiz_results', 'Append the quiz results to', RESULTS_FILTER,
                                       os.path.basename(results_path(self.settings)))
        if path:
            self.settings.setValue('quiz/results', path)
            self._show_results_path()

    def start(self):
        """Prepare a quiz in the background (its faces drawn and read); returns the Job."""
        data = self.data_edit.text().strip()
        if not data:
            self._message('Choose the real faces: a dataset zip or a folder of images')
            return None
        for key, value in (('data', data), ('rounds', self.rounds_spin.value()),
                           ('per_round', self.per_round_combo.currentData())):
            self.settings.setValue(f'quiz/{key}', value)
        state = self.model.state
        self.job = self.client.submit('quiz_images', data=data, rounds=self.rounds_spin.value(),
                                      per_round=self.per_round_combo.currentData(), seed=int(self.seed_spin.value()),
                                      psi=self.psi_spin.value(), cutoff=state.cutoff, class_idx=state.class_idx)
        self.job.finished.connect(self._prepared)
        self.job.failed.connect(self._message)
        self.job.ended.connect(lambda: self.start_button.setEnabled(True))
        self.setup_job_bar.attach(self.job, 'Preparing the quiz')
        self.start_button.setEnabled(False)
        return self.job

    def _message(self, text):
        self.last_message = message(self, 'Which face is real?', text)

    def _prepared(self, result):
        if self.sender() is not self.job:
            return
        self.plan, self.images, self.dataset = result['plan'], result['images'], result['dataset']
        self.psi = self.psi_spin.value()
        self.cutoff = self.model.state.cutoff
        self.marked, self.round, self.score, self.saved_to = [], 0, None, None
        self._make_tiles(self.plan.per_round)
        self._show_round()
        self.stack.setCurrentWidget(self.play_page)

    # --- play ---------------------------------------------------------------------------------
    def _build_play(self):
        page = QWidget()
        self.round_label = QLabel()
        font = self.round_label.font()
        font.setPointSize(font.pointSize() + 4)
        font.setBold(True)
        self.round_label.setFont(font)
        self.instruction_label = QLabel()
        self.tile_grid = QGridLayout()
        self.tile_grid.setSpacing(8)
        grid_row = QHBoxLayout()
        grid_row.addStretch(1)
        grid_row.addLayout(self.tile_grid)
        grid_row.addStretch(1)
        self.count_label = QLabel()
        self.stop_button = push_button('Stop and score', lambda: self.finish(),
                                       tip='End the quiz now and score the rounds played')
        self.next_button = push_button('Next round', lambda: self.next_round(), default=True)
        layout = QVBoxLayout(page)
        layout.addWidget(self.round_label)
        layout.addWidget(self.instruction_label)
        layout.addStretch(1)
        layout.addLayout(grid_row)
        layout.addStretch(1)
        layout.addWidget(self.count_label)
        layout.addLayout(button_row(self.stop_button, self.next_button))
        return page

    def _make_tiles(self, per_round):
        for tile in self.tiles:
            self.tile_grid.removeWidget(tile)
            tile.deleteLater()
        size = TILE if per_round <= 4 else SMALL_TILE
        cols = per_round if per_round <= 4 else per_round // 2
        self.tiles = []
        for pos in range(per_round):
            tile = FaceTile(size, LETTERS[pos])
            tile.clicked.connect(lambda pos=pos: self.toggle(pos))
            self.tile_grid.addWidget(tile, pos // cols, pos % cols)
            self.tiles.append(tile)

    def _show_round(self):
        plan = self.plan
        self.current = set()
        self.round_label.setText(f'Round {self.round + 1} of {len(plan.rounds)}')
        n = plan.per_round
        self.instruction_label.setText(f'{plan.instruction()}: click the real one{"s" * (plan.real_per_round > 1)}.'
                                       f'  (Keys: A-{LETTERS[n - 1]} or 1-{n} mark a face, Enter goes on.)')
        for tile, image in zip(self.tiles, self.images[self.round]):
            tile.set_image(image)
            tile.set_marked(False)
        self.next_button.setText('Finish' if self.round == len(plan.rounds) - 1 else 'Next round')
        self._update_count()

    def toggle(self, pos):
        if self.plan is None or self.stack.currentWidget() is not self.play_page:
            return
        self.current ^= {pos}
        self.tiles[pos].set_marked(pos in self.current)
        self._update_count()

    def _update_count(self):
        need = self.plan.real_per_round
        have = len(self.current)
        self.next_button.setEnabled(have == need)
        if have < need:
            self.count_label.setText(f'{have} of {need} marked: mark {need - have} more')
        elif have > need:
            self.count_label.setText(f'{have} marked, but only {need} {"are" if need > 1 else "is"} real: unmark '
                                     f'{have - need}')
        else:
            self.count_label.setText(f'{have} of {need} marked')

    def next_round(self):
        if len(self.current) != self.plan.real_per_round:
            return
        self.marked.append(frozenset(self.current))
        self.round += 1
        if self.round < len(self.plan.rounds):
            self._show_round()
        else:
            self.finish()

    def keyPressEvent(self, event):
        if self.stack.currentWidget() is self.play_page and self.plan is not None:
            text = event.text().upper()
            pos = LETTERS.find(text) if text and text.isalpha() else (int(text) - 1 if text.isdigit() else -1)
            if 0 <= pos < len(self.tiles):
                self.toggle(pos)
                return
            if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                self.next_round()
                return
        super().keyPressEvent(event)

    # --- score --------------------------------------------------------------------------------
    def _build_score(self):
        page = QWidget()
        self.title_label = QLabel()
        font = self.title_label.font()
        font.setPointSize(font.pointSize() + 4)
        font.setBold(True)
        self.title_label.setFont(font)
        self.accuracy_label = QLabel()
        self.fooled_label = QLabel()
        self.found_label = QLabel()
        self.saved_label = QLabel()
        self.saved_label.setWordWrap(True)
        self.mistakes_label = QLabel()
        self.review_box = QWidget()
        self.review_grid = QGridLayout(self.review_box)
        self.review_grid.setSpacing(6)
        self.review_grid.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.review_box)
        layout = QVBoxLayout(page)
        for label in (self.title_label, self.accuracy_label, self.fooled_label, self.found_label, self.saved_label,
                      self.mistakes_label):
            layout.addWidget(label)
        layout.addWidget(scroll, 1)
        self.new_button = push_button('New quiz', self.new_quiz, tip='Back to the settings, with a new seed')
        layout.addLayout(button_row(self.new_button, push_button('Close', self.close)))
        return page

    def finish(self):
        """Score the rounds played, append them to the results file and show the score page."""
        plan = self.plan
        self.score = score = score_quiz(plan, self.marked)
        played = len(self.marked)
        self.title_label.setText(f'Your score after {played} round{"s" * (played != 1)}' if played
                                 else 'No round was played')
        self.accuracy_label.setText(f'<b>Accuracy</b>: {score.accuracy.text()} of the faces judged right')
        self.fooled_label.setText(f'<b>Fooled</b>: {score.fooled.text()} of the generated faces taken for real')
        self.found_label.setText(f'<b>Real found</b>: {score.found.text()} of the real faces marked real')
        self.saved_to = self._save_results(score) if played else None
        self._show_mistakes(score.mistakes)
        self.stack.setCurrentWidget(self.score_page)
        return score

    def _save_results(self, score):
        path = results_path(self.settings)
        info = self.model.network or {}
        row = result_row(score, self.plan, finished=datetime.datetime.now().isoformat(timespec='seconds'),
                         network=info.get('source'), fingerprint=info.get('fingerprint'), dataset=self.dataset,
                         psi=self.psi, cutoff=self.cutoff)
        try:
            if not self.settings.value('quiz/results', '', type=str):
                os.makedirs(os.path.dirname(path), exist_ok=True)  # the app's data folder, made on first use
            append_results(path, row)
        except (StylescopeError, OSError) as e:
            self.saved_label.setText(f'The results were not saved: {e}')
            return None
        self.saved_label.setText(f'Added to {path}')
        return path

    def _show_mistakes(self, mistakes):
        while self.review_grid.count():
            item = self.review_grid.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self.review_tiles = []
        if not mistakes:
            self.mistakes_label.setText('No mistakes.' if self.marked else '')
            return
        self.mistakes_label.setText(f'<b>Your {len(mistakes)} mistake{"s" * (len(mistakes) != 1)}</b>:')
        for k, mistake in enumerate(mistakes):
            cell = QWidget()
            column = QVBoxLayout(cell)
            column.setContentsMargins(0, 0, 0, 0)
            picture = QLabel()
            picture.setPixmap(pixmap_from_array(self.images[mistake.round][mistake.position], REVIEW_TILE))
            colour = '#c62828' if mistake.said_real else '#1565c0'
            picture.setStyleSheet(f'border: 3px solid {colour};')
            picture.setFixedSize(REVIEW_TILE + 6, REVIEW_TILE + 6)
            item = mistake.item
            said = 'you said real' if mistake.said_real else 'you said generated'
            truth = 'generated' if not item.real else 'real'
            caption = QLabel(f'round {mistake.round + 1} {LETTERS[mistake.position]}: <b>{truth}</b>, {said}')
            caption.setWordWrap(True)
            caption.setFixedWidth(REVIEW_TILE + 40)
            caption.setToolTip(item.describe())
            column.addWidget(picture)
            column.addWidget(caption)
            self.review_grid.addWidget(cell, k // REVIEW_COLS, k % REVIEW_COLS)
            self.review_tiles.append((picture, caption))

    def new_quiz(self):
        self.seed_spin.setValue(self._rng.randrange(MAX_SEED + 1))
        self.stack.setCurrentWidget(self.setup_page)

    def closeEvent(self, event):
        if self.job is not None and not self.job.done:
            self.job.cancel()
        super().closeEvent(event)
