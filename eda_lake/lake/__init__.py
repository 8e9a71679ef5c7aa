"""The lake: storage, the layout of its areas, and the layers built from capture files."""
