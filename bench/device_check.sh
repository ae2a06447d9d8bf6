#!/usr/bin/env bash
# Everything worth knowing about an accelerator in one run, for a session's note:
#   bash bench/device_check.sh [--official PATH]   on a machine with a GPU: under 8 minutes
#   bash bench/device_check.sh --cpu-smoke         tiny sizes on the CPU: under a minute (CI runs it)
# 1. half precision vs fp32 (image difference) and render speed at 256 / 512 / 1024, peak memory
#    (bench/device_check.py; --official times a stylegan2-ada-pytorch checkout beside ours);
# 2. the explorer's latency, offscreen (bench/gui_latency.py);
# 3. training speed, sec/kimg, at paper256 and at the bundled model's preset (bench/train_small.py).
set -euo pipefail
cd "$(dirname "$0")/.."
smoke=0
official=()
while [ $# -gt 0 ]; do
  case "$1" in
    --cpu-smoke) smoke=1 ;;
    --official) official=(--official "$2"); shift ;;
    *) echo "usage: bash bench/device_check.sh [--cpu-smoke] [--official PATH]" >&2; exit 2 ;;
  esac
  shift
done
export QT_QPA_PLATFORM=offscreen
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"
if [ "$smoke" = 1 ]; then
  python bench/device_check.py --cpu-smoke
  python bench/gui_latency.py --models default --seconds 1
  python bench/train_small.py --cfg small --resolution 16 --batch 4 --steps 16 --device cpu --precision fp32
else
  python bench/device_check.py "${official[@]}"
  python bench/gui_latency.py --models default,1024 --seconds 3
  python bench/train_small.py --cfg paper256 --resolution 256 --steps 16 --device cuda --precision fp32,auto
  python bench/train_small.py --cfg small --resolution 64 --steps 32 --device cuda --precision fp32,auto
fi
