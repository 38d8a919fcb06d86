"""The detector layers the pipeline knows, as a table rather than constants in the kernels.

Each layer is (volume_id, layer_id, kind, position): ``kind`` is ``"barrel"`` (position = nominal
radius, mm) or ``"disk"`` (position = nominal z, mm). The kernels only see a layer index per hit
and a list of allowed (inner layer, outer layer) pairs, so adding the endcap disks means adding rows
here and pairs in :func:`layer_pairs`, not touching the kernels.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class LayerTable:
    volume_id: np.ndarray
    layer_id: np.ndarray
    kind: tuple[str, ...]
    position: np.ndarray

    def __len__(self) -> int:
        return len(self.volume_id)

    def index_of(self, volume_id: np.ndarray, layer_id: np.ndarray) -> np.ndarray:
        """Layer index of every hit, -1 for hits on layers outside the table."""
        key = volume_id.astype(np.int64) * 1000 + layer_id.astype(np.int64)
        table_key = self.volume_id.astype(np.int64) * 1000 + self.layer_id.astype(np.int64)
        order = np.argsort(table_key)
        pos = np.searchsorted(table_key[order], key)
        pos = np.clip(pos, 0, len(order) - 1)
        found = table_key[order][pos] == key
        return np.where(found, order[pos], -1).astype(np.int32)

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {"volume_id": self.volume_id, "layer_id": self.layer_id, "kind": self.kind,
             "position": self.position}
        )


# TrackML barrel (pixel volume 8, short strips 13, long strips 17), innermost first. Radii are
# the nominal layer radii of the TrackML detector (mm).
TRACKML_BARREL = LayerTable(
    volume_id=np.array([8, 8, 8, 8, 13, 13, 13, 13, 17, 17], dtype=np.int32),
    layer_id=np.array([2, 4, 6, 8, 2, 4, 6, 8, 2, 4], dtype=np.int32),
    kind=("barrel",) * 10,
    position=np.array([32.0, 72.0, 116.0, 172.0, 260.0, 360.0, 500.0, 660.0, 820.0, 1020.0]),
)


def layer_pairs(table: LayerTable, max_layer_gap: int) -> np.ndarray:
    """(inner, outer) layer-index pairs a doublet may connect, shape (n_pairs, 2).

    Barrel layers are ordered by radius; a doublet may skip ``max_layer_gap - 1`` layers.
    """
    barrel = [i for i, k in enumerate(table.kind) if k == "barrel"]
    barrel.sort(key=lambda i: table.position[i])
    pairs = [
        (barrel[a], barrel[b])
        for a in range(len(barrel))
        for b in range(a + 1, min(a + max_layer_gap, len(barrel) - 1) + 1)
    ]
    return np.array(pairs, dtype=np.int32).reshape(-1, 2)


def layer_rank(table: LayerTable) -> np.ndarray:
    """Position of each layer in the inside-out order, used for layer spans and holes."""
    order = np.argsort(table.position, kind="stable")
    rank = np.empty(len(table), dtype=np.int32)
    rank[order] = np.arange(len(table), dtype=np.int32)
    return rank
