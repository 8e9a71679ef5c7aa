"""Schema registry: the interface, the Avro compatibility rules, and the adapters."""
