"""Delta plumbing: reading tables, writing their data files, the one commit, and evolving a
table's schema in place."""
