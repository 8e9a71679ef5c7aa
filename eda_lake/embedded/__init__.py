"""The embedded default's own state: SQLite stores, kept owner-only."""
