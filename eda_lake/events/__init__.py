"""CloudEvents envelopes and the registry's Avro wire format: plain Python, no broker."""
