"""`make bench`: speed and memory figures, printed side by side with their baselines."""
