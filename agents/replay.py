"""A uniform replay buffer of named NumPy fields (a ring buffer), picklable for checkpoints."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

__all__ = ["ReplayBuffer"]


class ReplayBuffer:
    """Fixed-capacity FIFO of transitions; each field has a fixed per-item shape.

    ``fields`` maps a name to its per-item shape, e.g.
    ``{"obs": (11,), "action": (3,), "reward": (), "next_obs": (11,), "terminated": ()}``.
    Items are stored as float32 (``terminated`` as 0/1 floats). ``sample`` draws indices
    uniformly with replacement from a caller-owned ``numpy.random.Generator``.
    """

    def __init__(self, fields: Mapping[str, tuple[int, ...]], capacity: int):
        if not isinstance(capacity, int | np.integer) or capacity < 1:
            raise ValueError(f"capacity must be a positive int; got {capacity!r}")
        if not fields:
            raise ValueError("fields must name at least one field")
        self.capacity = int(capacity)
        self.data = {
            name: np.zeros((self.capacity, *tuple(shape)), dtype=np.float32)
            for name, shape in fields.items()
        }
        self.size = 0
        self.cursor = 0

    def add(self, item: Mapping[str, np.ndarray | float]) -> None:
        """Append one transition; ``item`` must have exactly the buffer's fields."""
        if set(item) != set(self.data):
            raise ValueError(
                f"item fields {sorted(item)} differ from the buffer's fields {sorted(self.data)}"
            )
        for name, value in item.items():
            self.data[name][self.cursor] = value
        self.cursor = (self.cursor + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, rng: np.random.Generator, shape: tuple[int, ...]) -> dict[str, np.ndarray]:
        """A batch of ``shape`` (e.g. ``(updates, batch)``) items, uniform with replacement."""
        if self.size == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        index = rng.integers(0, self.size, size=shape)
        return {name: column[index] for name, column in self.data.items()}

    def __len__(self) -> int:
        return self.size
