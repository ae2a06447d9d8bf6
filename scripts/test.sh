#!/usr/bin/env bash
# Install what the tests need and run them: the command README.md gives and .ci/run calls.
set -euo pipefail
cd "$(dirname "$0")/.."
pip install torch==2.13.0
pip install -e '.[test]'
python -m pytest -q
