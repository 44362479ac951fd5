"""Settings and pinned versions shared by every part of the pipeline."""
