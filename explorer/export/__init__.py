"""Export dialogs of the explorer (video)."""
