"""Label tables: values, names, colours and the expected topology of each label."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Label:
    """One label of a table.

    ``betti`` is the expected topology (b0 components, b1 tunnels, b2 cavities) of the label's
    6-connected mask in a healthy fetal brain; ``None`` when no target applies.
    """

    value: int
    name: str
    short: str
    colour: tuple[int, int, int]
    betti: tuple[int, int, int] | None = None

    @property
    def euler(self) -> int | None:
        """Expected Euler characteristic b0 - b1 + b2."""
        return None if self.betti is None else self.betti[0] - self.betti[1] + self.betti[2]


@dataclass(frozen=True)
class LabelTable:
    """An ordered set of labels; value 0 is background."""

    name: str
    labels: tuple[Label, ...]

    def __post_init__(self) -> None:
        values = [lab.value for lab in self.labels]
        if len(set(values)) != len(values):
            raise ValueError(f"label table {self.name}: duplicate values")

    @property
    def values(self) -> tuple[int, ...]:
        return tuple(lab.value for lab in self.labels)

    @property
    def foreground(self) -> tuple[int, ...]:
        """All values except background 0."""
        return tuple(v for v in self.values if v != 0)

    def __getitem__(self, value: int) -> Label:
        for lab in self.labels:
            if lab.value == value:
                return lab
        raise KeyError(f"label {value} not in table {self.name}")

    def __contains__(self, value: object) -> bool:
        return value in self.values

    def __len__(self) -> int:
        return len(self.labels)

    def by_short(self, short: str) -> Label:
        for lab in self.labels:
            if lab.short == short:
                return lab
        raise KeyError(f"no label {short!r} in table {self.name}")

    def colour_lut(self) -> np.ndarray:
        """(max_value + 1, 3) uint8 array of RGB colours indexed by label value."""
        lut = np.zeros((max(self.values) + 1, 3), dtype=np.uint8)
        for lab in self.labels:
            lut[lab.value] = lab.colour
        return lut
