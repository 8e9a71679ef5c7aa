"""Compiled Avro decoding and encoding (Cython, built by `pip install`; see setup.py).

`avro` is the compiled module. It decodes Capture's envelope blocks and flat registry
payloads straight into Arrow buffers, without a Python object per field, checks any
payload body against its writer schema, and encodes flat records, property maps and the
Kafka binding's headers for the publishers.
"""

from __future__ import annotations

import importlib
from types import ModuleType

# Imported by name: the module has no type stubs, so its members are typed as Any.
avro: ModuleType = importlib.import_module("eda_lake.native._avro")
