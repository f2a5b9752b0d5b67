"""Category encoding: integer ids to one-hot, multi-hot or (weighted) count rows."""

from numba import njit

__all__ = ["category_encode"]


@njit(cache=True)
def _category_encode(ids, weights, out, bad, binary, strict):
    T = out.shape[1]
    weighted = weights.shape[0] > 0
    for r in range(ids.shape[0]):
        out[r, :] = 0
        n_bad = 0
        for j in range(ids.shape[1]):
            v = ids[r, j]
            if 0 <= v < T:
                if binary:
                    out[r, v] = 1
                elif weighted:
                    out[r, v] += weights[r, j]
                else:
                    out[r, v] += 1
            elif strict or v >= T:
                n_bad += 1
        bad[r] = n_bad


def category_encode(ids, weights, out, bad, binary, strict):
    """out[r, t] = 1 (binary) or the count (the sum of weights[r, j], when weights is not empty)
    of the j with ids[r, j] == t; ids int (R, L), weights (R, L) or (0, 0), out float (R, T).
    Ids outside [0, T) are skipped; bad int64 (R,) gets each row's number of them, negative
    ids left out unless `strict` (a lookup marks masked tokens -1)."""
    _category_encode(ids, weights, out, bad, binary, strict)
