"""Bronze: every capture file's events, one row each, exactly once per file."""
