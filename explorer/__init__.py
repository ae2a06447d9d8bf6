"""Stylescope's PyQt6 explorer. It never calls torch itself: rendering runs in explorer.worker's thread."""
