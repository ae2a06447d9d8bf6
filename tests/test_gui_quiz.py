""""Which face is real?" in the explorer, offscreen: a quiz prepared on the render thread from a
dataset folder and the open network, played by clicking, scored with its intervals, its mistakes
reviewed and its line appended to the results CSV."""
import csv

import pytest
from PyQt6.QtCore import Qt

from core.quiz import score_quiz
from tests.gui_helpers import open_window, screenshot, wait_job, write_tiny_network
from tests.test_quiz import write_face_dataset


@pytest.fixture(scope='module')
def net_path(tmp_path_factory):
    return str(write_tiny_network(tmp_path_factory.mktemp('net') / 'tiny.safetensors'))


@pytest.fixture(scope='module')
def faces(tmp_path_factory):
    return write_face_dataset(tmp_path_factory.mktemp('data') / 'faces', 24, size=64)


@pytest.fixture
def window(qtbot, tmp_path, net_path):
    yield from open_window(qtbot, tmp_path, net_path)


def _click(qtbot, dialog, positions):
    for pos in positions:
        qtbot.mouseClick(dialog.tiles[pos], Qt.MouseButton.LeftButton)


def test_play_a_quiz_by_clicking(window, qtbot, tmp_path, faces):
    results = tmp_path / 'quiz_results.csv'
    window.settings.setValue('quiz/results', str(results))
    dialog = window.open_quiz_dialog()
    qtbot.addWidget(dialog)
    assert dialog.stack.currentWidget() is dialog.setup_page
    assert dialog.results_label.text() == str(results)
    dialog.data_edit.setText(faces)
    dialog.rounds_spin.setValue(3)
    dialog.per_round_combo.setCurrentIndex(dialog.per_round_combo.findData(4))
    dialog.psi_spin.setValue(0.7)
    dialog.seed_spin.setValue(7)
    screenshot(dialog, 'quiz_setup.png')
    qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    result = wait_job(qtbot, dialog.job)
    qtbot.waitUntil(lambda: dialog.stack.currentWidget() is dialog.play_page, timeout=5000)
    plan = dialog.plan
    assert plan is result['plan'] and len(plan.rounds) == 3 and plan.per_round == 4 and plan.real_per_round == 2
    real = [[pos for pos, item in enumerate(r) if item.real] for r in plan.rounds]
    fake = [[pos for pos, item in enumerate(r) if not item.real] for r in plan.rounds]

    # round 1: the tiles show this round's four different faces at the model's resolution; right answers
    assert dialog.round_label.text() == 'Round 1 of 3'
    shown = [tile.image for tile in dialog.tiles]
    assert all(img is face for img, face in zip(shown, result['images'][0]))
    assert all(img.shape == (32, 32, 3) for img in shown) and len({img.tobytes() for img in shown}) == 4
    assert not dialog.next_button.isEnabled()
    _click(qtbot, dialog, real[0][:1])
    assert not dialog.next_button.isEnabled() and dialog.count_label.text().startswith('1 of 2 marked')
    _click(qtbot, dialog, fake[0][:1])  # a third mark is too many ...
    _click(qtbot, dialog, real[0][1:])
    assert not dialog.next_button.isEnabled() and 'only 2 are real' in dialog.count_label.text()
    _click(qtbot, dialog, fake[0][:1])  # ... so it is taken back
    assert dialog.next_button.isEnabled() and dialog.tiles[real[0][0]].marked
    screenshot(dialog, 'quiz_round.png')
    qtbot.mouseClick(dialog.next_button, Qt.MouseButton.LeftButton)
    # round 2: both generated faces taken for real (with the keyboard: their letters)
    assert dialog.round_label.text() == 'Round 2 of 3' and not any(t.marked for t in dialog.tiles)
    for pos in fake[1]:
        qtbot.keyClick(dialog, 'ABCD'[pos])
    qtbot.mouseClick(dialog.next_button, Qt.MouseButton.LeftButton)
    # round 3: one right, one generated face taken for real
    assert dialog.next_button.text() == 'Finish'
    _click(qtbot, dialog, [real[2][0], fake[2][0]])
    qtbot.mouseClick(dialog.next_button, Qt.MouseButton.LeftButton)

    assert dialog.stack.currentWidget() is dialog.score_page
    assert dialog.marked == [frozenset(real[0]), frozenset(fake[1]), frozenset({real[2][0], fake[2][0]})]
    score = dialog.score
    assert score == score_quiz(plan, dialog.marked)
    # 12 faces: round 1 four right, round 2 none, round 3 two (the marked real one, the unmarked generated one)
    assert (score.accuracy.count, score.accuracy.total) == (6, 12)
    assert (score.fooled.count, score.fooled.total) == (3, 6)
    # Wilson 6 of 12: centre 0.5, half 1.959964 * sqrt(0.25/12 + z^2/576) / (1 + z^2/12) = 0.246220
    assert dialog.accuracy_label.text() == ('<b>Accuracy</b>: 50% (95% interval 25%–75%; 6 of 12) of the faces '
                                            'judged right')
    # Wilson 3 of 6: half 1.959964 * sqrt(0.25/6 + z^2/144) / (1 + z^2/6) = 0.312384
    assert dialog.fooled_label.text() == ('<b>Fooled</b>: 50% (95% interval 19%–81%; 3 of 6) of the generated '
                                          'faces taken for real')
    assert len(dialog.review_tiles) == 6 and 'Your 6 mistakes' in dialog.mistakes_label.text()
    captions = [caption.text() for _picture, caption in dialog.review_tiles]
    assert sum('<b>generated</b>, you said real' in c for c in captions) == 3
    assert sum('<b>real</b>, you said generated' in c for c in captions) == 3
    assert captions[0].startswith('round 2 ')
    rows = list(csv.DictReader(open(results)))
    assert len(rows) == 1
    assert (rows[0]['faces'], rows[0]['correct'], rows[0]['fooled'], rows[0]['generated']) == ('12', '6', '3', '6')
    assert rows[0]['psi'] == '0.7' and rows[0]['seed'] == '7' and rows[0]['dataset'].endswith('faces')
    assert rows[0]['fingerprint'] == window.model.network['fingerprint']
    dialog.resize(760, 620)
    screenshot(dialog, 'quiz_score.png')

    # a second quiz, stopped after one round, appends a second line
    qtbot.mouseClick(dialog.new_button, Qt.MouseButton.LeftButton)
    assert dialog.stack.currentWidget() is dialog.setup_page
    dialog.seed_spin.setValue(8)
    wait_job(qtbot, dialog.start())
    qtbot.waitUntil(lambda: dialog.stack.currentWidget() is dialog.play_page, timeout=5000)
    assert dialog.plan != plan and dialog.round_label.text() == 'Round 1 of 3'
    _click(qtbot, dialog, [p for p, item in enumerate(dialog.plan.rounds[0]) if item.real])
    qtbot.mouseClick(dialog.next_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(dialog.stop_button, Qt.MouseButton.LeftButton)
    assert dialog.score.rounds == 1 and dialog.mistakes_label.text() == 'No mistakes.'
    rows = list(csv.DictReader(open(results)))
    assert [r['seed'] for r in rows] == ['7', '8'] and rows[1]['correct'] == '4' and rows[1]['rounds'] == '1'


def test_a_dataset_too_small_says_so(window, qtbot, tmp_path, faces):
    dialog = window.open_quiz_dialog()
    qtbot.addWidget(dialog)
    dialog.data_edit.setText(faces)
    dialog.rounds_spin.setValue(20)
    dialog.per_round_combo.setCurrentIndex(dialog.per_round_combo.findData(4))
    job = dialog.start()
    qtbot.waitUntil(lambda: job.done, timeout=60000)
    assert job.error.startswith(f'dataset {faces} holds 24 images, but 20 rounds of 4 faces show 40')
    assert dialog.stack.currentWidget() is dialog.setup_page and dialog.start_button.isEnabled()
    assert dialog.last_message.text() == job.error
