"""The Event Hubs Capture format: envelope schema, archive names, writer and reader."""
