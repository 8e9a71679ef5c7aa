"""What the command line shows a person: progress, tables of rows, one line per fault."""
