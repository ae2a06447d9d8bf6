"""The layers of DESIGN.md hold: the import-linter contracts in pyproject.toml, and what importing
a part loads at run time (the explorer's model and the command line's parser need neither torch
nor Qt)."""
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HEAVY = ('torch', 'PyQt6')


def _loaded_by(code):
    """Which of torch and Qt a fresh interpreter has loaded after running `code`."""
    probe = f'{code}\nimport sys\nprint(sorted(m for m in {HEAVY!r} if m in sys.modules))'
    result = subprocess.run([sys.executable, '-c', probe], cwd=REPO, capture_output=True, text=True, check=True)
    return result.stdout.strip().splitlines()[-1]


def test_import_contracts_are_kept():
    pytest.importorskip('importlinter')
    code = 'import sys; from importlinter.cli import lint_imports_command; sys.argv = ["lint-imports"]; lint_imports_command()'
    result = subprocess.run([sys.executable, '-c', code], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0 and ' 0 broken' in result.stdout, result.stdout + result.stderr


@pytest.mark.parametrize('module', ['explorer.state', 'explorer.edit_state', 'explorer.drag_preview',
                                    'explorer.latent_text', 'explorer.platform_check', 'core.request',
                                    'core.session_file', 'core.direction_set', 'core.label_file', 'core.quiz'])
def test_the_editing_model_loads_neither_torch_nor_qt(module):
    assert _loaded_by(f'import {module}') == '[]'


@pytest.mark.parametrize('argv', [[], ['generate'], ['directions', 'pca'], ['train'], ['video'], ['quiz']])
def test_the_command_line_help_loads_neither_torch_nor_qt(argv):
    code = f'import main\ntry:\n    main.main({argv + ["--help"]!r})\nexcept SystemExit:\n    pass'
    assert _loaded_by(code) == '[]'
