from array import array

import numpy as np
from numpy.typing import NDArray

DIGEST_BYTES: int
MAX_KEY_BYTES: int

def masked_width(prefix: bytes) -> int: ...
def masked_texts(
    key: bytes,
    prefix: bytes,
    offsets: NDArray[np.int32] | NDArray[np.int64] | array[int],
    data: NDArray[np.uint8] | bytes,
) -> bytes: ...
def masked_text(key: bytes, prefix: bytes, value: bytes) -> bytes: ...
