"""The shared core: argument checks, reproducibility, progress bars, the batched training
engine, parallel runs and the widget explorer.  Nothing here knows a setting of the book."""
