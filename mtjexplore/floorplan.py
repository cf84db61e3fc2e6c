"""Where each synapse's two devices sit on the die's physical (row, col) array, tile by tile.

A die is a row of crossbar *tiles* of ``tile_shape = (rows, cols)`` cells, side by side: tile
``t`` covers physical columns ``t * cols .. (t + 1) * cols - 1`` of the die's array, all rows.
Each layer's device block (``n_in + 1`` rows by ``2 * n_out`` columns, the ``+`` and ``-``
column of each neuron next to each other) is cut into *pieces* of at most ``rows`` input rows and
``cols // 2`` neurons, and the pieces are placed first-fit, in layer order (row pieces first),
side by side within a tile from its column 0 and its row 0: a piece goes on the first tile with
enough free columns, else on a new tile.

A layer cut into several row pieces has, for each neuron, one partial column current per piece;
the periphery adds them (an ideal adder), so the neuron sees exactly the column sum of the whole
block -- which is what the forward model (:mod:`mtjexplore.network`) computes. A layer cut into
column pieces simply has its neurons on different tiles.

The paper's die is one 101 x 200 tile: layer 1 (101 x 180) at columns 0..179, layer 2 (91 x 20)
at columns 180..199, rows 0..90.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .errors import ParameterError

__all__ = ["Floorplan", "Piece", "SIGNS"]

SIGNS = ("+", "-")


class Piece(NamedTuple):
    """A rectangle of one layer's device block placed on one tile.

    Input rows ``row_start .. row_stop - 1`` and neurons ``neuron_start .. neuron_stop - 1`` of
    ``layer`` sit on ``tile`` with their first device at the tile's row 0 and column ``col``.
    """

    layer: int
    tile: int
    row_start: int
    row_stop: int
    neuron_start: int
    neuron_stop: int
    col: int


def _cut(layer_shapes, tile_shape):
    """The pieces of every layer, placed first-fit on tiles."""
    tile_rows, tile_cols = tile_shape
    free, pieces = [], []
    for layer, (n_in, n_out) in enumerate(layer_shapes):
        for r0 in range(0, n_in, tile_rows):
            for j0 in range(0, n_out, tile_cols // 2):
                r1, j1 = min(r0 + tile_rows, n_in), min(j0 + tile_cols // 2, n_out)
                width = 2 * (j1 - j0)
                tile = next((t for t, f in enumerate(free) if f >= width), len(free))
                if tile == len(free):
                    free.append(tile_cols)
                pieces.append(Piece(layer, tile, r0, r1, j0, j1, tile_cols - free[tile]))
                free[tile] -= width
    return pieces, len(free)


@dataclass(frozen=True, eq=False)
class Floorplan:
    """Map ``(layer, input row, neuron, sign)`` to a physical ``(row, col)`` and back.

    Parameters
    ----------
    shape : tuple of int
        ``(n_rows, n_cols)`` of the physical array.
    rows, cols : tuple of numpy.ndarray
        One pair per layer, each of shape ``(n_in, n_out, 2)``: physical row and column of the
        ``+`` (``[..., 0]``) and ``-`` (``[..., 1]``) device of every weight.
    tile_shape : tuple of int or None, default None
        ``(rows, cols)`` of one tile; the array is ``n_cols // cols`` tiles side by side. None:
        the whole array is one tile.
    pieces : tuple of Piece, default ()
        How the layers were cut and placed (set by :meth:`tiled`; informational).

    Examples
    --------
    >>> fp = Floorplan.side_by_side([(3, 2), (3, 2)])
    >>> fp.shape, fp.locate(0, 5)
    ((3, 8), (1, 0, 0, '-'))
    """

    shape: tuple
    rows: tuple
    cols: tuple
    tile_shape: tuple = None
    pieces: tuple = ()

    def __post_init__(self):
        tile = tuple(self.shape) if self.tile_shape is None else tuple(self.tile_shape)
        if tile[0] != self.shape[0] or self.shape[1] % tile[1]:
            raise ParameterError(f"floorplan tile_shape {tile} does not tile the {self.shape} array "
                                 "(same rows, a whole number of tiles side by side)")
        object.__setattr__(self, "tile_shape", tile)
        layer = np.full(self.shape, -1, dtype=np.int16)
        for index, (r, c) in enumerate(zip(self.rows, self.cols)):
            if r.shape != c.shape or r.ndim != 3 or r.shape[-1] != 2:
                raise ParameterError(f"floorplan layer {index}: rows/cols must both have shape "
                                     f"(n_in, n_out, 2); got {r.shape} and {c.shape}")
            if (r.min() < 0 or c.min() < 0 or r.max() >= self.shape[0] or c.max() >= self.shape[1]):
                raise ParameterError(f"floorplan layer {index} places devices outside the "
                                     f"{self.shape} array")
            if (layer[r, c] >= 0).any() or len(set(zip(r.ravel(), c.ravel()))) != r.size:
                raise ParameterError(f"floorplan layer {index} puts two devices on one cell")
            layer[r, c] = index
        object.__setattr__(self, "_layer", layer)
        object.__setattr__(self, "_inverse", self._build_inverse())

    @classmethod
    def tiled(cls, layer_shapes, tile_shape):
        """Layer blocks cut into pieces of at most ``tile_shape`` and placed first-fit on tiles.

        See the module docstring. Weight ``(i, j)`` of a piece starting at input row ``r0``,
        neuron ``j0``, column ``c`` of tile ``t`` uses row ``i - r0`` and columns
        ``t * tile_cols + c + 2 (j - j0)`` (+) and ``... + 1`` (-). One tile large enough for all
        blocks gives exactly :meth:`side_by_side`.

        Examples
        --------
        >>> fp = Floorplan.tiled([(5, 3), (4, 2)], (3, 4))
        >>> fp.shape, fp.n_tiles, fp.tile_of(*fp.position(0, 4, 2, "-"))
        ((3, 20), 5, 1)
        """
        tile_rows, tile_cols = tile_shape
        if max(r for r, _ in layer_shapes) <= tile_rows and sum(2 * c for _, c in layer_shapes) <= tile_cols:
            side = cls.side_by_side(layer_shapes)
            return cls((tile_rows, tile_cols), side.rows, side.cols, (tile_rows, tile_cols),
                       tuple(Piece(k, 0, 0, r, 0, c, int(side.cols[k].min()))
                             for k, (r, c) in enumerate(layer_shapes)))
        pieces, n_tiles = _cut(layer_shapes, tile_shape)
        rows = [np.zeros((n_in, n_out, 2), np.int64) for n_in, n_out in layer_shapes]
        cols = [np.zeros((n_in, n_out, 2), np.int64) for n_in, n_out in layer_shapes]
        for p in pieces:
            i, j, s = np.meshgrid(np.arange(p.row_stop - p.row_start),
                                  np.arange(p.neuron_stop - p.neuron_start), np.arange(2), indexing="ij")
            block = (slice(p.row_start, p.row_stop), slice(p.neuron_start, p.neuron_stop))
            rows[p.layer][block] = i
            cols[p.layer][block] = p.tile * tile_cols + p.col + 2 * j + s
        return cls((tile_rows, n_tiles * tile_cols), tuple(rows), tuple(cols), (tile_rows, tile_cols),
                   tuple(pieces))

    @classmethod
    def side_by_side(cls, layer_shapes):
        """Layer blocks side by side from column 0; weight ``(i, j)`` uses columns ``2j`` (+), ``2j+1`` (-)."""
        rows, cols, offset = [], [], 0
        for n_in, n_out in layer_shapes:
            i, j, s = np.meshgrid(np.arange(n_in), np.arange(n_out), np.arange(2), indexing="ij")
            rows.append(i.astype(np.int64))
            cols.append((offset + 2 * j + s).astype(np.int64))
            offset += 2 * n_out
        shape = (max(n_in for n_in, _ in layer_shapes), offset)
        return cls(shape, tuple(rows), tuple(cols))

    def _build_inverse(self):
        inverse = np.full(self.shape + (3,), -1, dtype=np.int32)
        for r, c in zip(self.rows, self.cols):
            i, j, s = np.meshgrid(*(np.arange(n) for n in r.shape), indexing="ij")
            inverse[r, c] = np.stack([i, j, s], axis=-1)
        return inverse

    @property
    def n_layers(self):
        return len(self.rows)

    @property
    def n_tiles(self):
        """Tiles side by side in the array."""
        return self.shape[1] // self.tile_shape[1]

    @property
    def tile_map(self):
        """``(n_rows, n_cols)`` int array: the tile each cell belongs to."""
        return np.broadcast_to(np.arange(self.shape[1]) // self.tile_shape[1], self.shape)

    def tile_of(self, row, col):
        """The tile holding cell ``(row, col)``."""
        self.check_cell(row, col)
        return int(col) // self.tile_shape[1]

    @property
    def layer_map(self):
        """``(n_rows, n_cols)`` int array: the layer a cell belongs to, -1 where there is no device."""
        return self._layer

    @property
    def present(self):
        """Boolean ``(n_rows, n_cols)`` mask of cells holding a device."""
        return self._layer >= 0

    @property
    def n_devices(self):
        return int(self.present.sum())

    def layer_shape(self, layer):
        """``(n_in, n_out)`` of a layer."""
        return self.rows[layer].shape[:2]

    def block_extent(self, layer):
        """``(row_min, row_max, col_min, col_max)`` inclusive bounding box of a layer's devices."""
        r, c = self.rows[layer], self.cols[layer]
        return int(r.min()), int(r.max()), int(c.min()), int(c.max())

    def locate(self, row, col):
        """Return ``(layer, input_row, neuron, sign)`` of the device at ``(row, col)``, or None."""
        self.check_cell(row, col)
        layer = int(self._layer[row, col])
        if layer < 0:
            return None
        i, j, s = (int(v) for v in self._inverse[row, col])
        return layer, i, j, SIGNS[s]

    def position(self, layer, input_row, neuron, sign):
        """Physical ``(row, col)`` of one device; ``sign`` is ``'+'`` or ``'-'``."""
        if not 0 <= layer < self.n_layers:
            raise ParameterError(f"layer must be in 0..{self.n_layers - 1}; got {layer}")
        if sign not in SIGNS:
            raise ParameterError(f"sign must be '+' or '-'; got {sign!r}")
        s = SIGNS.index(sign)
        return int(self.rows[layer][input_row, neuron, s]), int(self.cols[layer][input_row, neuron, s])

    def check_cell(self, row, col, where=""):
        """Raise a ParameterError naming ``(row, col)`` if it lies outside the array."""
        rows, cols = np.asarray(row), np.asarray(col)
        bad = (rows < 0) | (rows >= self.shape[0]) | (cols < 0) | (cols >= self.shape[1])
        if bad.any():
            k = np.flatnonzero(np.broadcast_to(bad, np.broadcast(rows, cols).shape))[0]
            r, c = np.broadcast_to(rows, bad.shape).ravel()[k], np.broadcast_to(cols, bad.shape).ravel()[k]
            raise ParameterError(f"{where}cell (row={r}, col={c}) is outside the die's "
                                 f"{self.shape[0]} x {self.shape[1]} array (rows 0..{self.shape[0]-1}, "
                                 f"cols 0..{self.shape[1]-1})")

    def gather(self, maps, layer):
        """Pick a layer's device values from ``maps[..., row, col]`` -> ``[..., n_in, n_out, 2]``.

        Works on numpy arrays and torch tensors.
        """
        return maps[..., self.rows[layer], self.cols[layer]]

    def remapped(self, layer, neuron_order=None, swap=None):
        """A floorplan where neuron ``j`` of ``layer`` uses the column pair that served neuron
        ``neuron_order[j]``, with ``+``/``-`` exchanged where ``swap[j]`` is true."""
        n_out = self.rows[layer].shape[1]
        order = np.arange(n_out) if neuron_order is None else np.asarray(neuron_order)
        swap = np.zeros(n_out, bool) if swap is None else np.asarray(swap, bool)
        if sorted(order.tolist()) != list(range(n_out)) or swap.shape != (n_out,):
            raise ParameterError(f"neuron_order must be a permutation of 0..{n_out - 1} and swap "
                                 f"a boolean array of length {n_out}")
        rows, cols = list(self.rows), list(self.cols)
        for arrays in (rows, cols):
            moved = arrays[layer][:, order, :]
            arrays[layer] = np.where(swap[None, :, None], moved[..., ::-1], moved)
        return Floorplan(self.shape, tuple(rows), tuple(cols), self.tile_shape)
