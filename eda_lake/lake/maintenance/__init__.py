"""Keeping the lake small and within its policies: compaction, vacuum, lifecycle."""
