"""Reading-order agreement of matched words: Kendall's tau, pooled over a corpus.

The words an engine found and that match a ground-truth word (see :mod:`textspotter.metrics.detection`) have a
position in the reference reading order and one in the engine's reading order. Of every two such words, the pair
is *concordant* when both orders put them the same way round and *discordant* otherwise. Kendall's tau is
``(concordant - discordant) / pairs = 1 - 2 * discordant / pairs``: 1 for the same order, about 0 for an unrelated
one, -1 for the reverse. Summing pairs and discordant pairs over all pages before dividing gives the corpus tau
(pages with many words weigh more, as they contain more pairs).

>>> round(order_counts([0, 1, 2, 3], [0, 2, 1, 3]).kendall_tau(), 4)
0.6667
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["OrderCounts", "count_inversions", "order_counts"]


@dataclass(frozen=True)
class OrderCounts:
    """Pairs of matched words and how many of them are discordant, for one page or a corpus (``a + b``)."""

    pairs: int = 0
    discordant: int = 0

    def __add__(self, other: OrderCounts) -> OrderCounts:
        if not isinstance(other, OrderCounts):
            return NotImplemented
        return OrderCounts(self.pairs + other.pairs, self.discordant + other.discordant)

    def kendall_tau(self) -> float | None:
        """Return ``1 - 2 * discordant / pairs`` (``None`` without any pair)."""
        return 1 - 2 * self.discordant / self.pairs if self.pairs > 0 else None

    def distance(self) -> float | None:
        """Return the normalised Kendall tau distance ``discordant / pairs`` in [0, 1] (``None`` without pairs)."""
        return self.discordant / self.pairs if self.pairs > 0 else None


def count_inversions(values: Sequence[float]) -> int:
    """Return the number of pairs ``i < j`` with ``values[i] > values[j]``, by merge sort in O(n log n).

    >>> count_inversions([3, 1, 2])
    2
    """
    items = list(values)
    inversions = 0
    width = 1
    # Bottom-up merge sort: no recursion, so thousands of words never approach the recursion limit.
    while width < len(items):
        merged: list = []
        for start in range(0, len(items), 2 * width):
            left, right = items[start : start + width], items[start + width : start + 2 * width]
            i = j = 0
            while i < len(left) and j < len(right):
                if right[j] < left[i]:
                    # Every element still waiting in `left` is greater than right[j]: all of them invert with it.
                    inversions += len(left) - i
                    merged.append(right[j])
                    j += 1
                else:
                    merged.append(left[i])
                    i += 1
            merged.extend(left[i:])
            merged.extend(right[j:])
        items = merged
        width *= 2
    return inversions


def order_counts(reference_positions: Sequence[int], hypothesis_positions: Sequence[int]) -> OrderCounts:
    """Count discordant pairs between two orders of the same matched items.

    Args:
        reference_positions: position of each matched item in the reference reading order (distinct values).
        hypothesis_positions: position of the same items, in the same sequence, in the engine's reading order.

    Returns:
        The page's :class:`OrderCounts`.
    """
    if len(reference_positions) != len(hypothesis_positions):
        raise ValueError(
            f"reference_positions ({len(reference_positions)}) and hypothesis_positions "
            f"({len(hypothesis_positions)}) must have the same length"
        )
    n = len(reference_positions)
    by_reference = [h for _, h in sorted(zip(reference_positions, hypothesis_positions))]
    return OrderCounts(pairs=n * (n - 1) // 2, discordant=count_inversions(by_reference))
