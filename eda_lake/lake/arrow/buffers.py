"""An Arrow text column's buffers as numpy views, for the compiled loops that read them."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa

Offsets = npt.NDArray[np.int32] | npt.NDArray[np.int64]


def text_buffers(values: pa.Array) -> tuple[Offsets, npt.NDArray[np.uint8]]:
    """A string or binary array's offsets (sliced to the array: value i is
    `data[offsets[i]:offsets[i + 1]]`) and its data bytes, without copying."""
    _, offsets_buffer, data = values.buffers()
    rows = slice(values.offset, values.offset + len(values) + 1)
    offsets: Offsets
    if pa.types.is_large_string(values.type) or pa.types.is_large_binary(values.type):
        offsets = np.frombuffer(offsets_buffer, np.int64)[rows]
    else:
        offsets = np.frombuffer(offsets_buffer, np.int32)[rows]
    return offsets, np.frombuffer(data or b"", np.uint8)  # Arrow exports its bytes as signed
