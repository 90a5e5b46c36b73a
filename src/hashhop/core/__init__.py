"""Stage 0, shared by every stage: the one exception tree, JSON and file helpers, progress bars."""
