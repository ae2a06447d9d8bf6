""""Which face is real?" (core/quiz.py, cli/quiz.py): rounds never show a face twice and are half
real, real and generated faces go through one pipeline, the score and its Wilson intervals on fixed
answers, the results CSV appends, and the `quiz` command writes a sheet and its key or refuses bad
input with one sentence."""
import csv
import os
import zipfile

import numpy as np
import PIL.Image
import PIL.ImageDraw
import pytest

import main
from core.errors import StylescopeError
from core.model_io import open_network, save_network
from core.quiz import (GENERATED, REAL, RESIZE_FILTER, RESULT_FIELDS, QuizItem, QuizPlan, append_results,
                       key_path, plan_quiz, quiz_image, quiz_images, result_row, score_quiz, sheet_layout,
                       wilson_interval)
from core.render import render_seeds
from tests.tiny_nets import tiny_generator
from train.dataset import ImageDataset

RES = 32


def face_picture(i, size=64, mode='RGB'):
    """A distinct cartoon face per index: skin, eyes and mouth that vary with i."""
    rng = np.random.RandomState(i)
    back = tuple(int(v) for v in rng.randint(0, 120, 3))
    skin = tuple(int(v) for v in rng.randint(140, 255, 3))
    img = PIL.Image.new('RGB', (size, size), back)
    d = PIL.ImageDraw.Draw(img)
    s = size / 64
    d.ellipse((14 * s, 8 * s, 50 * s, 58 * s), fill=skin)
    eye = 3 + i % 3
    for x in (24, 40):
        d.ellipse(((x - eye) * s, 26 * s, (x + eye) * s, 32 * s), fill=(30, 30, 30))
    d.arc((22 * s, 36 * s, 42 * s, 50 * s), 10 + 5 * (i % 4), 170, fill=(150, 40, 40), width=max(1, int(2 * s)))
    return img.convert(mode)


def write_face_dataset(folder, count, size=64, as_zip=False, mode='RGB'):
    """`count` faces in the dataset_tool layout: a folder, or a zip beside it (as_zip)."""
    folder = os.fspath(folder)
    if as_zip:
        path = folder + '.zip'
        with zipfile.ZipFile(path, 'w') as z:
            for i in range(count):
                with z.open(f'{i // 1000:05d}/img{i:08d}.png', 'w') as f:
                    face_picture(i, size, mode).save(f, format='PNG')
        return path
    os.makedirs(os.path.join(folder, '00000'), exist_ok=True)
    for i in range(count):
        face_picture(i, size, mode).save(os.path.join(folder, '00000', f'img{i:08d}.png'))
    return folder


@pytest.fixture(scope='module')
def net(tmp_path_factory):
    G = tiny_generator(seed=3, res=RES)
    path = tmp_path_factory.mktemp('net') / 'tiny.safetensors'
    save_network(str(path), G)
    return str(path), open_network(str(path)).G


@pytest.fixture(scope='module')
def faces_zip(tmp_path_factory):
    return write_face_dataset(tmp_path_factory.mktemp('data') / 'faces-64', 30, as_zip=True)


# --- the plan ---------------------------------------------------------------------------------------

@pytest.mark.parametrize('rounds, per_round, seed', [(20, 2, 0), (12, 4, 7), (5, 8, 123), (1, 16, 9)])
def test_no_face_twice_and_exactly_half_real(rounds, per_round, seed):
    plan = plan_quiz(100, rounds, per_round, seed)
    assert len(plan.rounds) == rounds and plan.per_round == per_round and plan.real_per_round == per_round // 2
    for round_items in plan.rounds:
        assert len(round_items) == per_round
        assert sum(item.kind == REAL for item in round_items) == per_round // 2
        assert sum(item.kind == GENERATED for item in round_items) == per_round // 2
        assert len(set(round_items)) == per_round  # never the same face twice in a round
    items = plan.items()
    reals = [item.source for item in items if item.real]
    seeds = [item.source for item in items if not item.real]
    assert len(set(reals)) == len(reals) and all(0 <= r < 100 for r in reals)  # nor twice in the whole quiz
    assert len(set(seeds)) == len(seeds)
    assert plan_quiz(100, rounds, per_round, seed) == plan  # the seed makes the quiz again
    assert plan_quiz(100, rounds, per_round, seed + 1) != plan


def test_real_faces_are_not_always_in_the_same_places():
    plan = plan_quiz(100, 20, 4, seed=5)
    layouts = {tuple(item.real for item in r) for r in plan.rounds}
    assert len(layouts) > 2  # shuffled, not real-first
    positions = np.array([[item.real for item in r] for r in plan.rounds])
    assert positions.sum(axis=1).tolist() == [2] * 20


def test_the_dataset_must_hold_every_real_face_of_the_quiz():
    assert plan_quiz(20, 10, 4, names=[f'f{i}' for i in range(20)]).items()[0].name.startswith(('f', 'seed'))
    with pytest.raises(StylescopeError, match=r"^dataset faces.zip holds 19 images, but 10 rounds of 4 faces show "
                                              r"20 different real ones: play fewer rounds"):
        plan_quiz(19, 10, 4, where='dataset faces.zip')
    for bad in (3, 0, 18):
        with pytest.raises(StylescopeError, match='even number from 2 to 16'):
            plan_quiz(100, 2, bad)


# --- one pipeline for real and generated faces -----------------------------------------------------

def test_quiz_image_crops_the_centre_square_and_resizes_with_the_one_filter():
    wide = np.zeros([40, 60, 3], np.uint8)
    wide[:, :10] = 255    # left 10 columns white: cut off by the centre crop (columns 10..49 stay)
    wide[:, 50:] = 128    # right 10 columns grey: cut off too
    wide[:, 10:50, 1] = np.arange(40, dtype=np.uint8)[None, :] * 6
    out = quiz_image(wide, 32, 3)
    expected = np.asarray(PIL.Image.fromarray(wide[:, 10:50]).resize((32, 32), RESIZE_FILTER))
    assert out.shape == (32, 32, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, expected)
    at_size = np.random.RandomState(0).randint(0, 256, [32, 32, 3]).astype(np.uint8)
    np.testing.assert_array_equal(quiz_image(at_size, 32, 3), at_size)  # a generated face passes unchanged
    grey = quiz_image(np.full([64, 64, 1], 77, np.uint8), 32, 3)  # a grey photo for an RGB model: 3 channels
    assert grey.shape == (32, 32, 3) and (grey == 77).all()
    assert quiz_image(at_size, 32, 1).shape == (32, 32, 1)


def test_real_and_generated_faces_are_made_alike(net, faces_zip):
    _path, G = net
    dataset = ImageDataset(faces_zip)
    assert dataset.resolution == 64 != G.img_resolution  # real faces at another size than the model's
    plan = plan_quiz(len(dataset), 6, 4, seed=11, names=dataset.image_names)
    calls, drawn = [], {}

    def draw(seeds):
        batch = render_seeds(G, seeds, None, 0.7)
        drawn.update(zip(seeds, batch))
        return batch
    images = quiz_images(plan, lambda i: dataset.load_raw_image(i).transpose(1, 2, 0), draw, RES, 3, batch=4,
                         progress=lambda done, total: calls.append((done, total)))
    assert [len(r) for r in images] == [4] * 6
    for round_items, faces in zip(plan.rounds, images):
        for item, face in zip(round_items, faces):
            assert face.shape == (RES, RES, 3) and face.dtype == np.uint8
            if item.real:  # the dataset image, cropped (a no-op: square) and resized with the one filter
                source = PIL.Image.fromarray(dataset.load_raw_image(item.source).transpose(1, 2, 0))
                np.testing.assert_array_equal(face, np.asarray(source.resize((RES, RES), RESIZE_FILTER)))
            else:  # drawn at the model's resolution, through the same function, unchanged by it
                np.testing.assert_array_equal(face, drawn[item.source])
        flat = [face.tobytes() for face in faces]
        assert len(set(flat)) == len(flat)  # four different pictures in each round
    assert calls[-1] == (24, 24) and len(drawn) == 12
    dataset.close()


# --- the score --------------------------------------------------------------------------------------

def test_wilson_interval_by_hand():
    # 14 of 20: p = 0.7, z = 1.959964, z^2 = 3.841459; denominator 1 + z^2/20 = 1.192073;
    # centre (0.7 + z^2/40) / 1.192073 = 0.796036 / 1.192073 = 0.667775;
    # half z * sqrt(0.7 * 0.3 / 20 + z^2 / 1600) / 1.192073 = 1.959964 * 0.113582 / 1.192073 = 0.186749
    low, high = wilson_interval(14, 20)
    assert low == pytest.approx(0.481026, abs=2e-6) and high == pytest.approx(0.854524, abs=2e-6)
    # 3 of 10: centre (0.3 + 0.192073) / 1.384146 = 0.355506; half 1.959964 * 0.174939 / 1.384146 = 0.247716
    low, high = wilson_interval(3, 10)
    assert low == pytest.approx(0.107790, abs=2e-6) and high == pytest.approx(0.603222, abs=2e-6)
    # 0 of 10: low 0, high (z^2/10) / (1 + z^2/10) = 0.384146 / 1.384146 = 0.277533; n of n mirrors it
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.277533), abs=2e-6)
    assert wilson_interval(10, 10) == pytest.approx((0.722467, 1.0), abs=2e-6)
    assert wilson_interval(0, 0) == (0.0, 1.0)


def _fixed_plan():
    """5 rounds of 4 faces; the real ones at these positions."""
    real_at = [(0, 1), (2, 3), (1, 2), (0, 3), (1, 3)]
    rounds, n = [], 0
    for r, reals in enumerate(real_at):
        items = []
        for pos in range(4):
            items.append(QuizItem(REAL, n, f'img{n}.png') if pos in reals else QuizItem(GENERATED, 1000 + n))
            n += 1
        rounds.append(tuple(items))
    return QuizPlan(tuple(rounds), seed=4)


def test_score_on_fixed_answers():
    plan = _fixed_plan()
    # round 1 right; round 2: one generated face (pos 0) taken for real, real pos 2 missed;
    # round 3 right; round 4: both generated taken for real; round 5 right
    marked = [{0, 1}, {0, 3}, {1, 2}, {1, 2}, {1, 3}]
    score = score_quiz(plan, marked)
    assert (score.accuracy.count, score.accuracy.total) == (14, 20)
    assert (score.fooled.count, score.fooled.total) == (3, 10)
    assert (score.found.count, score.found.total) == (7, 10)
    assert score.accuracy.value == 0.7 and score.fooled.value == 0.3
    assert score.accuracy.interval == pytest.approx((0.481026, 0.854524), abs=2e-6)
    assert score.fooled.interval == pytest.approx((0.107790, 0.603222), abs=2e-6)
    assert score.accuracy.text() == '70% (95% interval 48%–85%; 14 of 20)'
    assert [(m.round, m.position, m.said_real) for m in score.mistakes] == [
        (1, 0, True), (1, 2, False), (3, 0, False), (3, 1, True), (3, 2, True), (3, 3, False)]
    # stopped after two rounds: only those count
    early = score_quiz(plan, marked[:2])
    assert (early.accuracy.count, early.accuracy.total, early.fooled.count, early.rounds) == (6, 8, 1, 2)
    with pytest.raises(ValueError):
        score_quiz(plan, [{0, 4}])


def test_results_csv_appends(tmp_path):
    plan = _fixed_plan()
    path = tmp_path / 'results.csv'
    first = result_row(score_quiz(plan, [{0, 1}] * 5), plan, finished='2025-01-01T10:00:00', network='a.pkl',
                       fingerprint='ab12', dataset='faces.zip', psi=0.7, cutoff=None)
    second = result_row(score_quiz(plan, [{0, 1}, {0, 3}, {1, 2}, {1, 2}, {1, 3}]), plan,
                        finished='2025-01-01T10:05:00', network='a.pkl', fingerprint='ab12', dataset='faces.zip',
                        psi=0.5, cutoff=4)
    append_results(path, first)
    append_results(path, second)
    text = path.read_text()
    assert text.count('finished,network') == 1  # one header line
    rows = list(csv.DictReader(text.splitlines()))
    assert len(rows) == 2 and list(rows[0]) == list(RESULT_FIELDS)
    assert rows[1]['correct'] == '14' and rows[1]['faces'] == '20' and rows[1]['fooled'] == '3'
    assert rows[1]['accuracy'] == '0.7000' and rows[1]['accuracy_low'] == '0.4810'
    assert rows[1]['fooled_high'] == '0.6032' and rows[1]['psi'] == '0.5' and rows[1]['cutoff'] == '4'
    assert rows[0]['cutoff'] == '' and rows[0]['per_round'] == '4' and rows[0]['seed'] == '4'
    other = tmp_path / 'other.csv'
    other.write_text('name,score\nx,1\n')
    with pytest.raises(StylescopeError, match="is not a quiz results file"):
        append_results(other, first)
    assert other.read_text() == 'name,score\nx,1\n'
    with pytest.raises(StylescopeError, match='could not write .*does not exist'):
        append_results(tmp_path / 'missing' / 'r.csv', first)


# --- the command ------------------------------------------------------------------------------------

def _run(argv, capsys):
    code = main.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_quiz_command_writes_the_sheet_and_its_key(net, faces_zip, tmp_path, capsys):
    path, G = net
    out = tmp_path / 'sheet.png'
    code, stdout, err = _run(['quiz', '--network', path, '--data', faces_zip, '--rounds', '7', '--per-round', '4',
                              '--trunc', '0.6', '--seed', '3', '--cell', '64', '--out', str(out)], capsys)
    assert code == 0, err
    assert 'sheet.png' in stdout and 'sheet-key.csv' in stdout
    key = key_path(out)
    assert key == str(tmp_path / 'sheet-key.csv') and os.path.exists(key)
    rows = list(csv.DictReader(open(key)))
    assert len(rows) == 28 and [r['face'] for r in rows[:4]] == list('ABCD')
    dataset = ImageDataset(faces_zip)
    plan = plan_quiz(len(dataset), 7, 4, 3, dataset.image_names)
    assert [(int(r['round']), r['answer'], r['source']) for r in rows] == [
        (k + 1, item.kind, item.name if item.real else str(item.source))
        for k, round_items in enumerate(plan.rounds) for item in round_items]
    for k in range(7):
        assert sum(r['answer'] == 'real' for r in rows[4 * k:4 * k + 4]) == 2
    sheet = PIL.Image.open(out)
    assert 'answer' not in ' '.join(sheet.text.values()) and sheet.text['truncation_psi'] == '0.6'
    cols, block_w, block_h = sheet_layout(7, 4, 64)
    assert sheet.size == (cols * block_w + 40, -(-7 // cols) * block_h + 110)
    # round 1, face B on the sheet: its face at the model's resolution, resized to the cell with the one filter
    page = np.asarray(sheet.convert('RGB'))
    item = plan.rounds[0][1]
    if item.real:
        face = quiz_image(dataset.load_raw_image(item.source).transpose(1, 2, 0), RES, 3)
    else:
        face = render_seeds(G, [item.source], None, 0.6)[0]
    x, y = 20 + 40 + 1 * (64 + 8), 100
    expected = np.asarray(PIL.Image.fromarray(face).resize((64, 64), RESIZE_FILTER))
    np.testing.assert_array_equal(page[y:y + 64, x:x + 64], expected)
    dataset.close()


def _refused(argv, capsys, *phrases):
    code, out, err = _run(argv, capsys)
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('error: ') and 'Traceback' not in err, err
    for phrase in phrases:
        assert phrase in lines[0], lines[0]
    return lines[0]


def test_quiz_command_refuses_bad_input_in_one_sentence(net, faces_zip, tmp_path, capsys):
    path, _G = net
    base = ['quiz', '--network', path, '--data', faces_zip, '--cell', '32']
    out = str(tmp_path / 'sheet.png')
    _refused(base + ['--rounds', '16', '--per-round', '4', '--out', out], capsys,
             f'--data {faces_zip} holds 30 images', '32 different real ones')
    _refused(['quiz', '--network', path, '--data', str(tmp_path / 'nowhere.zip'), '--out', out], capsys,
             'nowhere.zip does not exist')
    _refused(base + ['--out', str(tmp_path / 'no' / 'such' / 'sheet.png')], capsys, 'could not write', 'sheet.png')
    _refused(base + ['--out', str(tmp_path / 'sheet.jpg')], capsys, 'sheet.jpg', 'is not a .png file')
    _refused(base + ['--per-round', '3', '--out', out], capsys, '--per-round', 'odd')
    _refused(base + ['--rounds', '0', '--out', out], capsys, '--rounds')
    (tmp_path / 'taken.png').mkdir()
    _refused(base + ['--out', str(tmp_path / 'taken.png')], capsys, 'taken.png', 'a folder of that name')
    bad = tmp_path / 'not-images'
    bad.mkdir()
    (bad / 'readme.txt').write_text('no pictures here')
    _refused(['quiz', '--network', path, '--data', str(bad), '--out', out], capsys, 'holds no images')
    assert not os.path.exists(out) and not os.path.exists(key_path(out))  # nothing half-written
    assert sorted(os.listdir(tmp_path)) == ['not-images', 'taken.png']


def test_quiz_command_on_the_shared_dataset_and_bundled_model(tmp_path, capsys):
    data = '/work/shared/datasets/congress-portraits-64.zip'
    if not os.path.exists(data):
        pytest.skip('the shared congress-portraits dataset is not on this machine')
    out = tmp_path / 'congress.png'
    code, _out, err = _run(['quiz', '--data', data, '--rounds', '4', '--trunc', '0.7', '--out', str(out)], capsys)
    assert code == 0, err
    rows = list(csv.DictReader(open(key_path(out))))
    assert len(rows) == 8 and sum(r['answer'] == 'real' for r in rows) == 4
