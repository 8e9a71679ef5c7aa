"""Finding capture files: listing a container, watching it cheaply, and Event Grid's
notifications through a Storage Queue."""
