""""Which face is real?": rounds of real and generated faces, the one picture pipeline both go
through, the score with its 95% intervals, the printable sheet with its answer key, and the
results CSV. No torch, no Qt: the caller hands in how to read a real image (the dataset reader,
core/image_dataset.py) and how to draw a batch of seeds (core.render.render_seeds), so the explorer's
dialog can use the plan and the score without loading either.

A round shows `per_round` faces, exactly half of them real, in an order drawn from the quiz's
seed; across the whole quiz no dataset image and no seed comes twice. Real and generated faces
are made the same way (`quiz_image`): to the model's channels, centre-cropped to a square,
resized to the model's resolution with one filter (a generated face is already square and at that
size: the crop and resize leave it as it is), then shown or tiled at one size with one filter.
So size, aspect, sharpness and file format say nothing about which is which.
"""
import csv
import io
import math
import os
from dataclasses import dataclass, field

import numpy as np
import PIL.Image
import PIL.ImageDraw
import PIL.ImageFont
import PIL.PngImagePlugin

from core.atomic import atomic_path, atomic_write, check_writable
from core.errors import Cancelled, StylescopeError, is_cancelled
from core.image_files import check_image_size
from core.seeds import MAX_SEED

REAL, GENERATED = 'real', 'generated'
RESIZE_FILTER = PIL.Image.LANCZOS  # the one filter for every real and generated face, at every step
Z95 = 1.959963984540054  # the standard normal's 97.5% quantile: two-sided 95% intervals
MAX_PER_ROUND = 16
LETTERS = 'ABCDEFGHIJKLMNOP'
MAX_RESULTS_BYTES = 64 << 20  # a results CSV of a million quizzes is ~200 MB; this one grows by a line per quiz


# --- the plan ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class QuizItem:
    """One face of a round: a dataset image (`source` its index, `name` its file) or a seed."""
    kind: str
    source: int
    name: str = ''

    @property
    def real(self):
        return self.kind == REAL

    def describe(self):
        return f'real ({self.name})' if self.real else f'generated (seed {self.source})'


@dataclass(frozen=True)
class QuizPlan:
    rounds: tuple  # of tuples of QuizItem, each round's faces in the order shown
    seed: int = 0

    @property
    def per_round(self):
        return len(self.rounds[0])

    @property
    def real_per_round(self):
        return sum(item.real for item in self.rounds[0])

    def items(self):
        return [item for round_items in self.rounds for item in round_items]

    def instruction(self):
        k, n = self.real_per_round, self.per_round
        if k == 1:
            return f'One of these {n} faces is real' if n > 2 else 'One of these two faces is real'
        return f'{k} of these {n} faces are real'


def check_round_size(per_round, what='faces per round'):
    if not 2 <= per_round <= MAX_PER_ROUND or per_round % 2:
        raise StylescopeError(f'{what} is {per_round}: use an even number from 2 to {MAX_PER_ROUND}, since half '
                              'of every round is real')


def plan_quiz(dataset_size, rounds, per_round=2, seed=0, names=None, where='the dataset'):
    """The quiz's rounds: exactly per_round / 2 real faces in each, every real one a different
    dataset image and every generated one a different seed, the images, seeds and positions all
    drawn from np.random.RandomState(seed). `names` (the dataset's files, by index) name the real
    faces; `where` names the dataset in the sentence for one too small."""
    rounds, per_round = int(rounds), int(per_round)
    if rounds < 1:
        raise StylescopeError(f'a quiz of {rounds} rounds shows nothing: play at least one round')
    check_round_size(per_round)
    real_per_round = per_round // 2
    need = rounds * real_per_round
    if dataset_size < need:
        raise StylescopeError(f'{where} holds {dataset_size:,} image{"s" * (dataset_size != 1)}, but {rounds} rounds '
                              f'of {per_round} faces show {need:,} different real ones: play fewer rounds or fewer '
                              'faces per round, or give a larger dataset')
    rng = np.random.RandomState(seed % (1 << 32))
    real = rng.choice(dataset_size, need, replace=False)
    seeds = []
    taken = set()
    while len(seeds) < need:  # distinct seeds; repeats are rare (need is tiny next to 2^32)
        s = int(rng.randint(0, MAX_SEED + 1, dtype=np.int64))
        if s not in taken:
            taken.add(s)
            seeds.append(s)
    plan = []
    for r in range(rounds):
        kinds = rng.permutation([REAL] * real_per_round + [GENERATED] * real_per_round)
        reals = iter(real[r * real_per_round:(r + 1) * real_per_round])
        gens = iter(seeds[r * real_per_round:(r + 1) * real_per_round])
        round_items = []
        for kind in kinds:
            if kind == REAL:
                idx = int(next(reals))
                round_items.append(QuizItem(REAL, idx, names[idx] if names is not None else f'image {idx}'))
            else:
                s = next(gens)
                round_items.append(QuizItem(GENERATED, s, f'seed {s}'))
        plan.append(tuple(round_items))
    return QuizPlan(tuple(plan), int(seed))


# --- the pictures -----------------------------------------------------------------------------------

def quiz_image(image, resolution, channels):
    """The one pipeline of every face, real or generated: a PIL image or a uint8 HWC / HW array ->
    uint8 [resolution, resolution, channels]: converted to the model's channels (RGB or grey),
    centre-cropped to the largest square, resized with RESIZE_FILTER when not at the resolution."""
    if isinstance(image, np.ndarray):
        array = image[:, :, 0] if image.ndim == 3 and image.shape[2] == 1 else image
        image = PIL.Image.fromarray(np.ascontiguousarray(array))
    image = image.convert('RGB' if channels == 3 else 'L')
    w, h = image.size
    side = min(w, h)
    if (w, h) != (side, side):
        left, top = (w - side) // 2, (h - side) // 2
        image = image.crop((left, top, left + side, top + side))
    if side != resolution:
        image = image.resize((resolution, resolution), RESIZE_FILTER)
    array = np.asarray(image, dtype=np.uint8)
    if array.ndim == 2:
        array = array[:, :, None]
    assert array.shape == (resolution, resolution, channels), array.shape
    return np.array(array)


def quiz_images(plan, load_real, draw_generated, resolution, channels, batch=8, progress=None, cancel=None):
    """The faces of `plan`, as rounds of uint8 HWC arrays in the plan's order, every one through
    quiz_image. load_real(index) -> a PIL image or HWC array of that dataset image;
    draw_generated(seeds) -> uint8 [len(seeds), H, W, C] (core.render.render_seeds).
    progress(done, total) is called after each batch; `cancel` stops with Cancelled."""
    items = plan.items()
    total = len(items)
    faces, done = {}, 0
    for item in items:
        if item.real:
            if is_cancelled(cancel):
                raise Cancelled('quiz cancelled')
            faces[(REAL, item.source)] = quiz_image(load_real(item.source), resolution, channels)
            done += 1
            if progress is not None and done % batch == 0:
                progress(done, total)
    seeds = [item.source for item in items if not item.real]
    for start in range(0, len(seeds), batch):
        if is_cancelled(cancel):
            raise Cancelled('quiz cancelled')
        chunk = seeds[start:start + batch]
        for s, drawn in zip(chunk, draw_generated(chunk)):
            faces[(GENERATED, s)] = quiz_image(np.asarray(drawn), resolution, channels)
        done += len(chunk)
        if progress is not None:
            progress(done, total)
    return [[faces[(item.kind, item.source)] for item in round_items] for round_items in plan.rounds]


# --- the score --------------------------------------------------------------------------------------

def wilson_interval(successes, trials, z=Z95):
    """(low, high) of the Wilson score interval for a proportion (Wilson, 1927). Chosen over the
    textbook p +- z sqrt(p(1-p)/n) because that one collapses to a width of zero at 0 or n
    successes and leaves [0, 1] for the few dozen answers a quiz collects; Wilson's stays inside
    and keeps a sensible width there. No trials: (0, 1), nothing is known."""
    if trials <= 0:
        return 0.0, 1.0
    p = successes / trials
    zz = z * z
    denom = 1 + zz / trials
    centre = (p + zz / (2 * trials)) / denom
    half = z * math.sqrt(p * (1 - p) / trials + zz / (4 * trials * trials)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class Rate:
    """`count` of `total`, as a proportion with its 95% Wilson interval."""
    count: int
    total: int

    @property
    def value(self):
        return self.count / self.total if self.total else float('nan')

    @property
    def interval(self):
        return wilson_interval(self.count, self.total)

    def text(self):
        if not self.total:
            return 'no answers'
        low, high = self.interval
        return f'{self.value:.0%} (95% interval {low:.0%}–{high:.0%}; {self.count} of {self.total})'


@dataclass(frozen=True)
class Mistake:
    round: int     # from 0
    position: int  # from 0, in the order shown
    item: QuizItem

    @property
    def said_real(self):
        return not self.item.real  # a mistake on a generated face is calling it real, and the reverse


@dataclass(frozen=True)
class QuizScore:
    accuracy: Rate    # faces judged right (marked real and real, or unmarked and generated)
    fooled: Rate      # generated faces marked real
    found: Rate       # real faces marked real
    mistakes: tuple = field(default=())
    rounds: int = 0


def score_quiz(plan, marked):
    """Score the answers: `marked` holds, for each round played (the first len(marked) of the
    plan), the positions the player marked as real."""
    if len(marked) > len(plan.rounds):
        raise ValueError(f'{len(marked)} answers for a quiz of {len(plan.rounds)} rounds')
    right = gen = fooled = real = found = 0
    mistakes = []
    for r, (round_items, chosen) in enumerate(zip(plan.rounds, marked)):
        chosen = set(chosen)
        if not chosen <= set(range(len(round_items))):
            raise ValueError(f'round {r + 1} marks positions {sorted(chosen)} of {len(round_items)} faces')
        for pos, item in enumerate(round_items):
            said_real = pos in chosen
            if item.real:
                real += 1
                found += said_real
            else:
                gen += 1
                fooled += said_real
            if said_real == item.real:
                right += 1
            else:
                mistakes.append(Mistake(r, pos, item))
    n = real + gen
    return QuizScore(Rate(right, n), Rate(fooled, gen), Rate(found, real), tuple(mistakes), len(marked))


# --- the results file -------------------------------------------------------------------------------

RESULT_FIELDS = ('finished', 'network', 'fingerprint', 'dataset', 'psi', 'cutoff', 'seed', 'rounds', 'per_round',
                 'faces', 'correct', 'accuracy', 'accuracy_low', 'accuracy_high', 'generated', 'fooled',
                 'fooled_rate', 'fooled_low', 'fooled_high', 'real', 'real_found')


def result_row(score, plan, **info):
    """One line of the results CSV: `info` gives finished (a time stamp), network, fingerprint,
    dataset, psi, cutoff; the rest comes from the score and the plan."""
    acc_low, acc_high = score.accuracy.interval
    fool_low, fool_high = score.fooled.interval
    row = dict(info, seed=plan.seed, rounds=score.rounds, per_round=plan.per_round, faces=score.accuracy.total,
               correct=score.accuracy.count, accuracy=f'{score.accuracy.value:.4f}', accuracy_low=f'{acc_low:.4f}',
               accuracy_high=f'{acc_high:.4f}', generated=score.fooled.total, fooled=score.fooled.count,
               fooled_rate=f'{score.fooled.value:.4f}', fooled_low=f'{fool_low:.4f}',
               fooled_high=f'{fool_high:.4f}', real=score.found.total, real_found=score.found.count)
    return {key: '' if row.get(key) is None else row.get(key) for key in RESULT_FIELDS}


def append_results(path, row):
    """Add `row` (result_row) to the CSV at `path`, with the header line first when the file is new.
    The file is rewritten whole under a temporary name and renamed, so a failed write leaves the
    old results as they were; a file that is not a quiz results CSV is refused, not appended to."""
    path = os.fspath(path)
    old = b''
    if os.path.exists(path):
        try:
            with open(path, 'rb') as f:
                if os.fstat(f.fileno()).st_size > MAX_RESULTS_BYTES:
                    raise StylescopeError(f"quiz results '{path}' holds more than {MAX_RESULTS_BYTES >> 20} MiB: "
                                          'start a new results file')
                old = f.read()
        except OSError as e:
            raise StylescopeError(f"could not read quiz results '{path}' ({e.strerror or e}): choose another "
                                  'results file') from None
        first = old.split(b'\n', 1)[0].strip().decode('utf-8', 'replace')
        if old.strip() and first != ','.join(RESULT_FIELDS):
            raise StylescopeError(f"'{path}' is not a quiz results file (its first line is not the quiz's header): "
                                  'choose another results file, or a new name')
    else:
        check_writable(path)
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=RESULT_FIELDS, lineterminator='\n')
    if not old.strip():
        old = b''
        writer.writeheader()
    elif not old.endswith(b'\n'):
        old += b'\n'
    writer.writerow(row)
    atomic_write(path, lambda f: f.write(old + text.getvalue().encode('utf-8')))
    return path


# --- the printable sheet ----------------------------------------------------------------------------

def key_path(sheet_path):
    """The answer key's file beside a sheet: sheet.png -> sheet-key.csv."""
    stem, _ext = os.path.splitext(os.fspath(sheet_path))
    return f'{stem}-key.csv'


def _font(size):
    try:
        return PIL.ImageFont.load_default(size=size)
    except TypeError:  # Pillow before 10.1: the bitmap font only
        return PIL.ImageFont.load_default()


def sheet_layout(rounds, per_round, cell):
    """(columns of rounds, block width, block height): round blocks laid out so the page comes
    closest to A4 portrait (height = 1.414 x width)."""
    block_w = 44 + per_round * (cell + 8)
    block_h = cell + 34
    best = None
    for cols in range(1, min(rounds, 4) + 1):
        rows = math.ceil(rounds / cols)
        ratio = (rows * block_h + 110) / (cols * block_w + 40)
        score = abs(math.log(ratio / math.sqrt(2)))
        if best is None or score < best[0] - 1e-9:
            best = (score, cols)
    return best[1], block_w, block_h


def check_sheet_size(rounds, per_round, cell):
    cols, block_w, block_h = sheet_layout(rounds, per_round, cell)
    width, height = cols * block_w + 40, math.ceil(rounds / cols) * block_h + 110
    check_image_size(1, height, width, f'a sheet of {rounds} rounds of {per_round} faces at {cell} px',
                     'play fewer rounds or make the faces smaller')
    return width, height


def sheet_image(plan, images, cell=192, title='Which face is real?'):
    """The printable sheet as uint8 HWC RGB: a title, the instruction, and per round its number
    and faces lettered A, B, ... Every face is resized to `cell` pixels with RESIZE_FILTER."""
    rounds, per_round = len(plan.rounds), plan.per_round
    width, height = check_sheet_size(rounds, per_round, cell)
    cols, block_w, block_h = sheet_layout(rounds, per_round, cell)
    page = PIL.Image.new('RGB', (width, height), 'white')
    draw = PIL.ImageDraw.Draw(page)
    draw.text((20, 18), title, fill='black', font=_font(34))
    which = 'the letter of the real one' if plan.real_per_round == 1 else 'the letters of the real ones'
    draw.text((20, 62), f'{plan.instruction()} in every round: circle {which}.',
              fill='#333333', font=_font(18))
    label_font, letter_font = _font(22), _font(16)
    for r, faces in enumerate(images):
        col, row = divmod(r, math.ceil(rounds / cols))
        x0, y0 = 20 + col * block_w, 100 + row * block_h
        draw.text((x0, y0 + cell // 2 - 12), f'{r + 1}', fill='black', font=label_font)
        for pos, face in enumerate(faces):
            x = x0 + 40 + pos * (cell + 8)
            tile = PIL.Image.fromarray(face[:, :, 0] if face.shape[2] == 1 else face).convert('RGB')
            page.paste(tile.resize((cell, cell), RESIZE_FILTER), (x, y0))
            draw.rectangle((x - 1, y0 - 1, x + cell, y0 + cell), outline='#999999')
            draw.text((x + cell // 2 - 5, y0 + cell + 4), LETTERS[pos], fill='black', font=letter_font)
    return np.asarray(page)


def key_rows(plan):
    """The answer key: one row per face (round from 1, letter, real/generated, dataset file or seed)."""
    return [dict(round=r + 1, face=LETTERS[pos], answer=item.kind,
                 source=item.name if item.real else item.source)
            for r, round_items in enumerate(plan.rounds) for pos, item in enumerate(round_items)]


def write_sheet(path, plan, images, cell=192, metadata=None):
    """Write the sheet PNG at `path` and its answer key CSV beside it (key_path): both are written
    under temporary names and renamed only when both are complete, so a failure leaves neither
    new file (and no sheet without its key). `metadata` ({key: value}: network, psi, seed...) goes
    into the sheet's PNG text chunks; the answers only into the key. Returns (sheet, key)."""
    path = os.fspath(path)
    key = key_path(path)
    check_writable(path)
    check_writable(key)
    page = PIL.Image.fromarray(sheet_image(plan, images, cell))
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=('round', 'face', 'answer', 'source'), lineterminator='\n')
    writer.writeheader()
    writer.writerows(key_rows(plan))
    info = PIL.PngImagePlugin.PngInfo()  # (core.images has the same, but loads torch)
    for k, v in (metadata or {}).items():
        info.add_text(str(k), str(v))
    with atomic_path(path) as sheet_tmp, atomic_path(key) as key_tmp:  # the key is renamed first, then the sheet
        with open(key_tmp, 'wb') as f:
            f.write(text.getvalue().encode('utf-8'))
        with open(sheet_tmp, 'wb') as f:
            page.save(f, format='PNG', pnginfo=info)
    return path, key
