"""Reading the lake as an analyst does: SQL over every table's current snapshot."""
