"""Label files: which seeds show an attribute, as the InterfaceGAN finder takes them. No torch.

A CSV of `seed,label` rows (label 0 or 1), or `seed,label,class` for a conditional model, where
the class is the one each picture was drawn with. An optional `seed,label[,class]` header, blank
lines and # comments are skipped. The explorer's labelling dialog writes them; `directions svm
--labels` and scripts/build_default_assets.py read them.
"""
import csv
import io
import os

import numpy as np

from core.atomic import atomic_write
from core.bounded_read import check_size
from core.errors import StylescopeError
from core.seeds import MAX_SEED, MAX_SEED_LIST

MAX_LABEL_BYTES = 64 << 20  # a million 'seed,label,class' rows are about 20 MB


def labels_from_csv(path):
    """`seed,label` or `seed,label,class` rows (an optional header, blank lines and # comments
    skipped) -> (seeds, labels, classes): classes is a list of ints when every row names the class
    its picture was drawn with (conditional models), else None."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise StylescopeError(f"label file '{path}' does not exist: check the path")
    seeds, labels, classes, seen = [], [], [], {}
    check_size(os.path.getsize(path), MAX_LABEL_BYTES, path, 'label file')
    try:
        with open(path, encoding='utf-8-sig') as f:
            lines = list(f)
    except UnicodeDecodeError:
        raise StylescopeError(f"label file '{path}' is not text: save it as a UTF-8 CSV of 'seed,label' rows") from None
    for line_no, line in enumerate(lines, start=1):
        text = line.split('#', 1)[0].strip()
        if not text:
            continue
        parts = [p.strip() for p in text.split(',')]
        if not seeds and parts[0].lower() == 'seed':  # header
            continue
        try:
            assert len(parts) in (2, 3)
            seed, label = int(parts[0]), int(float(parts[1]))
            assert 0 <= seed <= MAX_SEED and label in (0, 1) and float(parts[1]) == label
            class_idx = int(parts[2]) if len(parts) == 3 and parts[2] else None
            assert class_idx is None or class_idx >= 0
        except (ValueError, AssertionError, OverflowError):  # OverflowError: a label of inf
            raise StylescopeError(f"line {line_no} of '{path}' is not 'seed,label' or 'seed,label,class' with a seed "
                                  f'>= 0, a label 0 or 1 and a class >= 0 (found {text[:40]!r}): fix or remove that '
                                  'line') from None
        if len(seeds) >= MAX_SEED_LIST and seed not in seen:
            raise StylescopeError(f"'{path}' labels more than {MAX_SEED_LIST:,} seeds: use fewer")
        if seen.get(seed, (label, class_idx)) != (label, class_idx):
            raise StylescopeError(f"seed {seed} has two different labels in '{path}' (line {line_no}): "
                                  'keep one of them')
        if seed not in seen:
            seen[seed] = (label, class_idx)
            seeds.append(seed)
            labels.append(label)
            classes.append(class_idx)
    if len(set(labels)) < 2:
        raise StylescopeError(f"'{path}' needs seeds labelled 0 and seeds labelled 1: add examples of both")
    if any(k is not None for k in classes) and any(k is None for k in classes):
        raise StylescopeError(f"'{path}' names a class on some rows but not on others: give every row its class "
                              'or none')
    return seeds, np.array(labels, dtype=np.int64), (None if classes[0] is None else classes)


def write_labels(path, seeds, labels, classes=None):
    """Write `seed,label` rows (with a third `class` column when classes are given), atomically."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator='\n')
    writer.writerow(['seed', 'label'] + (['class'] if classes is not None else []))
    for i, (seed, label) in enumerate(zip(seeds, labels)):
        writer.writerow([int(seed), int(label)] + ([int(classes[i])] if classes is not None else []))
    atomic_write(path, lambda f: f.write(out.getvalue().encode('utf-8')))
