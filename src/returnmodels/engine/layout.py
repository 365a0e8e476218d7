"""Where each named parameter sits in the engine's expanded draw: names, slices,
shapes, dims and coords of a design's posterior.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from returnmodels.engine.design import FormulaDesign


@dataclass(frozen=True)
class Layout:
    """Where each named parameter sits in the expanded draw: ``(name, slice, shape)``,
    its dims, the coords, and ``order``: the positions in the engine's raw expansion
    (beta, sigma, correlations, effects; each M copies) of the expanded draw."""

    names: list[str]
    slices: list[slice]
    shapes: list[tuple[int, ...]]
    dims: dict[str, tuple[str, ...]]
    coords: dict[str, list[str]]
    n_dim: int
    n_expanded: int
    order: np.ndarray


def layout_of(design: FormulaDesign, S: int, R: int, Q: int, pair_labels) -> Layout:
    """Names, shapes and dims of the draws; a multinomial stage's parameters get its
    prefix and its leading dim (one copy per non-reference outcome)."""
    P, M = design.X.shape[1], design.n_linear
    n_pairs = sum(len(v) for v in pair_labels.values())
    lead = (design.lead,) if design.lead else ()
    coords = {design.lead: list(design.lead_levels)} if design.lead else {}
    names, slices, shapes, dims, order = [], [], [], {}, []
    at = 0

    def add(name, base, width, start, dim=None, labels=None):
        """``name`` holds raw entries ``base + m * width + start + i``, i < len(labels)."""
        nonlocal at
        size = 1 if dim is None else len(labels)
        positions = base + np.arange(M)[:, None] * width + start + np.arange(size)[None, :]
        name = design.prefix + name
        own = () if dim is None else (dim,)
        names.append(name)
        slices.append(slice(at, at + M * size))
        shapes.append(((M,) if lead else ()) + ((size,) if own else ()))
        if lead or own:
            dims[name] = lead + own
        if own:
            coords[dim] = list(labels)
        order.append(positions.ravel())
        at += M * size

    start = 0
    for term in design.common:
        if term.levels is None:
            add(term.name, 0, P, start)
        else:
            add(term.name, 0, P, start, term.dim, term.levels)
        start += len(term.labels)
    s = 0
    for block in design.blocks:
        for r in range(block.width):
            add(f"{block.column_name(r)}_sigma", M * P, S, s)
            s += 1
    if design.integrated is not None:
        add(design.integrated.sigma_name, M * P, S, s)
    p = 0
    for b, block in enumerate(design.blocks):
        if b in pair_labels:
            labels = pair_labels[b]
            base = M * (P + S)
            if len(labels) == 1:
                add(f"{block.factor}_corr", base, n_pairs, p)
            else:
                add(f"{block.factor}_corr", base, n_pairs, p, f"{block.factor}_corr_pair", labels)
            p += len(labels)
    q = 0
    for block in design.blocks:
        for r in range(block.width):
            base = M * (P + S + n_pairs)
            add(f"{block.column_name(r)}_effect", base, Q, q, block.factor, block.levels)
            q += len(block.levels)
    n_dim = M * (P + S + R + Q)
    order_array = np.concatenate(order) if order else np.zeros(0, dtype=np.int64)
    return Layout(names, slices, shapes, dims, coords, n_dim, at, order_array.astype(np.int64))
