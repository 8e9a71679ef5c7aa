import numpy as np
from numpy.typing import NDArray

def pair_hashes(
    first_offsets: NDArray[np.int32] | NDArray[np.int64],
    first_data: NDArray[np.uint8],
    second_offsets: NDArray[np.int32] | NDArray[np.int64],
    second_data: NDArray[np.uint8],
) -> NDArray[np.uint64]: ...
