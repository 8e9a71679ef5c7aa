"""Arrow columns: Avro types as Arrow types, text buffers for the compiled loops, key hashes,
and memory given back."""
