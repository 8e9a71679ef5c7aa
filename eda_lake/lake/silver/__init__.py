"""Silver's event tables: bodies decoded through the registry, typed, masked and deduplicated."""
