"""The names of the precision setting (`--precision`, View > Precision, RenderRequest.precision),
apart from core/precision.py, which resolves them and measures the CPU with torch: the command
line's parser and the torch-free request types take the names from here."""

PRECISIONS = ('auto', 'fp32', 'bf16')
PURPOSES = ('preview', 'final')  # what a frame is for: shown while a control moves, or kept / at rest
