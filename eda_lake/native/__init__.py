"""Compiled Avro decoding (Cython), optional: where it was not built, callers use fastavro.

`avro` is the compiled module, or None. It decodes Capture's envelope blocks and flat
registry payloads straight into Arrow buffers, without a Python object per field.
"""

from __future__ import annotations

import importlib
from types import ModuleType

avro: ModuleType | None
try:
    avro = importlib.import_module("eda_lake.native._avro")
except ImportError:  # built without a C compiler: the pure-Python paths apply
    avro = None
