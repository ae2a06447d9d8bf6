"""Projecting many photos into one output folder: which photos, where each one's outputs go,
which are finished, and the summary. No torch (the projection itself is core.projection / core.pti).

Layout of --outdir D:
    D/<name>/            one folder per photo (its stem; 'a-png', 'a-2'... when stems collide),
                         holding `project`'s usual outputs; it appears only when all of them are
                         written: they are written into a hidden temporary folder beside it that is
                         renamed into place last (core.atomic.atomic_folder), so a photo whose folder
                         exists is finished, and a killed run leaves no half-written folder (at most a
                         hidden '.<name>.*.tmp' folder, removed by the next run)
    D/summary.csv        file, space, steps, psnr, ssim, seconds: one row per finished photo, in the
                         order the photos were given; rewritten (atomically) after each photo
A re-run with the same settings skips the finished photos; a folder made with other settings stops
the run with a sentence instead of being mixed with new results.
"""
import csv
import io
import os
import re
import shutil

from core.atomic import atomic_write
from core.bounded_read import read_json_file
from core.errors import StylescopeError

PHOTO_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.webp', '.bmp')
SUMMARY = 'summary.csv'
SUMMARY_FIELDS = ('file', 'space', 'steps', 'psnr', 'ssim', 'seconds')
RECORD = 'projection.json'          # written into every photo's folder; its 'batch' entry is the row
SETTING_KEYS = ('space', 'num_steps', 'w_plus_steps', 'pti_steps', 'seed', 'network_fingerprint')


def list_photos(targets):
    """The photos of --target: files as given, folders as their photo files (sorted by name, hidden
    ones left out; not recursive). Returns [absolute path], refusing a missing path, a folder with
    no photos, and a photo given twice."""
    photos = []
    for target in targets:
        target = os.fspath(target)
        if os.path.isdir(target):
            found = sorted(e.path for e in os.scandir(target) if e.is_file() and not e.name.startswith('.')
                           and os.path.splitext(e.name)[1].lower() in PHOTO_EXTENSIONS)
            if not found:
                raise StylescopeError(f"folder '{target}' holds no photos ({', '.join(PHOTO_EXTENSIONS)}): give a "
                                      'folder of photos or the photo files')
            photos += found
        elif os.path.isfile(target):
            photos.append(target)
        else:
            raise StylescopeError(f"target '{target}' does not exist: check the path")
    photos = [os.path.abspath(p) for p in photos]
    seen = set()
    for p in photos:
        if p in seen:
            raise StylescopeError(f"photo '{p}' is given twice: give each photo once")
        seen.add(p)
    return photos


def folder_names(photos):
    """One output folder name per photo: its stem, made unique by its extension, then a number."""
    names, taken = [], set()
    for path in photos:
        stem, ext = os.path.splitext(os.path.basename(path))
        stem = re.sub(r'[^\w.+-]', '_', stem).lstrip('.') or 'photo'
        name = stem
        for candidate in [stem, f'{stem}-{ext.lstrip(".").lower()}'] + [f'{stem}-{n}' for n in range(2, 10 ** 6)]:
            if candidate.lower() not in taken and candidate != SUMMARY:
                name = candidate
                break
        taken.add(name.lower())
        names.append(name)
    return names


def settings_key(space, num_steps, w_plus_steps, pti_steps, seed, network_fingerprint):
    """What makes two runs' results the same: a finished folder with another key is not reused."""
    return dict(space=space, num_steps=num_steps, w_plus_steps=w_plus_steps, pti_steps=pti_steps, seed=seed,
                network_fingerprint=network_fingerprint)


def _describe(key):
    parts = [f"space {key.get('space')}", f"{key.get('num_steps')} W steps"]
    if key.get('space') == 'pti':
        parts.append(f"{key.get('pti_steps')} tuning steps")
    if key.get('space') == 'w+':
        parts.append(f"{key.get('w_plus_steps')} W+ steps")
    parts.append(f"seed {key.get('seed')}")
    return ', '.join(parts)


def finished_row(folder, key):
    """The summary row of a finished photo folder made with settings `key`; None when the folder
    does not exist. A folder made with other settings, or whose record cannot be read, is a
    StylescopeError (nothing is overwritten)."""
    if not os.path.isdir(folder):
        return None
    record_path = os.path.join(folder, RECORD)
    try:
        record = read_json_file(record_path, 'projection record')
        batch = record['batch']
        row, saved_key = batch['row'], batch['settings']
        if not isinstance(row, dict) or not isinstance(saved_key, dict):
            raise TypeError
    except (StylescopeError, KeyError, TypeError):
        raise StylescopeError(f"'{folder}' is in the way: it is not a finished projection of this batch (no readable "
                              f'{RECORD}); move it away or choose another --outdir') from None
    if {k: saved_key.get(k) for k in SETTING_KEYS} != {k: key.get(k) for k in SETTING_KEYS}:
        raise StylescopeError(f"'{folder}' holds a projection made with other settings ({_describe(saved_key)}; this "
                              f'run: {_describe(key)}): use another --outdir, or delete that folder to project the '
                              'photo again')
    return {field: row.get(field) for field in SUMMARY_FIELDS}


def batch_record(row, key):
    """The 'batch' entry of a photo's projection.json: its summary row and the run's settings."""
    return dict(row={field: row[field] for field in SUMMARY_FIELDS}, settings=dict(key))


def summary_row(photo, space, steps, psnr, ssim, seconds):
    return dict(file=os.fspath(photo), space=space, steps=int(steps), psnr=round(float(psnr), 4),
                ssim=round(float(ssim), 5), seconds=round(float(seconds), 2))


def write_summary(path, rows):
    """summary.csv of `rows` (dicts of SUMMARY_FIELDS), atomically."""
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=SUMMARY_FIELDS, lineterminator='\n')
    writer.writeheader()
    for row in rows:
        writer.writerow({field: row.get(field) for field in SUMMARY_FIELDS})
    data = text.getvalue().encode('utf-8')
    atomic_write(path, lambda f: f.write(data))


def read_summary(path):
    """summary.csv back as a list of dicts (strings)."""
    with open(path, newline='', encoding='utf-8') as f:
        return list(csv.DictReader(f))


def remove_stale_temporaries(outdir, names):
    """Remove the hidden temporary folders a killed run left for these photos
    ('.<name>.<8 hex>.tmp', core.atomic's names); returns how many."""
    wanted = set(names)
    removed = 0
    for entry in os.scandir(outdir):
        m = re.fullmatch(r'\.(.+)\.[0-9a-f]{8}\.tmp', entry.name)
        if m and m.group(1) in wanted and entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
            removed += 1
    return removed
