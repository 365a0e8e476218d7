"""Secondary suppression: no suppressed entry of a count table can be recovered from the
rest of the table, its row and column totals included.

A table with its totals is read as one linear system: each row of cells sums to its row
total, each column to its column total, and the totals to the grand total. Negate the
totals and every line of the ``(R+1) x (C+1)`` table sums to zero. The suppressed
entries are the unknowns; draw each as an edge between its row and its column (a
bipartite graph). The published entries fix the sum of the unknowns on every line, and an
unknown is determined by these equations exactly when its edge lies on no cycle (it is a
*bridge*): along a cycle one can add and subtract the same amount, alternately, without
changing any line sum.

The algorithm therefore repeats, until no suppressed entry is a bridge:

1. find the bridges among the suppressed entries (Tarjan, linear time);
2. for the first bridge ``(row, column)``, find the cheapest path from ``row`` to
   ``column`` that avoids the bridge, where an already-suppressed entry costs nothing, a
   positive interior cell costs its value, a zero interior cell costs more than all
   positive cells together (a suppressed zero protects little: its partner's value is
   then bounded by the line sum) and a total costs more than all interior cells
   (Dijkstra);
3. suppress every entry on that path: the bridge now lies on a cycle.

Each round removes at least one bridge and adds none, so the loop ends. A table with a
single row or column has one line (cells and their total) and needs only that the number
of suppressed entries on it is 0 or at least 2. Non-negativity can still narrow a
suppressed value to an interval; exact recovery is what this rules out.
"""

from __future__ import annotations

import numpy as np

__all__ = ["protect_table", "protect_line", "suppressed_bridges"]


def protect_table(values: np.ndarray, suppressed: np.ndarray, eligible: np.ndarray) -> np.ndarray:
    """Extend ``suppressed`` on a table whose last row and column are its totals.

    ``eligible`` marks the entries that may be suppressed (missing cells may not: they are
    not counts and protect nothing). Returns a new boolean mask; inputs are not modified.
    """
    mask = suppressed.copy()
    cost = _table_costs(values)
    while bridges := suppressed_bridges(mask):
        row, column = bridges[0]
        path = _cheapest_path(mask, eligible, cost, row, column)
        if path is None:  # no way round: nothing of this table can be published safely
            return eligible.copy() | mask
        for entry in path:
            mask[entry] = True
    return mask


def protect_line(values: np.ndarray, suppressed: np.ndarray, eligible: np.ndarray) -> np.ndarray:
    """Extend ``suppressed`` on one line whose last entry is its total."""
    mask = suppressed.copy()
    if mask.sum() != 1:
        return mask
    cost = _interior_cost(values, values[:-1])
    cost[-1] += cost[:-1].sum() + 1.0
    candidates = np.flatnonzero(eligible & ~mask)
    if candidates.size == 0:
        return eligible.copy() | mask
    mask[candidates[np.argmin(cost[candidates])]] = True
    return mask


def _interior_cost(values: np.ndarray, interior: np.ndarray) -> np.ndarray:
    """A positive cell costs its value; a zero costs more than all positive interior cells
    together, so a zero is chosen only when no positive cell will do."""
    zero_cost = interior[interior > 0].sum() + 1.0
    return np.where(values > 0, values, zero_cost).astype(float)


def _table_costs(values: np.ndarray) -> np.ndarray:
    """Entry costs; a total costs more than all interior cells together."""
    cost = _interior_cost(values, values[:-1, :-1])
    cost[-1, :] += cost[:-1, :-1].sum() + 1.0
    cost[:, -1] += cost[:-1, :-1].sum() + 1.0
    return cost


def suppressed_bridges(mask: np.ndarray) -> list[tuple[int, int]]:
    """The suppressed entries ``(row, column)`` whose value the line sums determine."""
    n_rows, n_columns = mask.shape
    adjacency: list[list[tuple[int, int]]] = [[] for _ in range(n_rows + n_columns)]
    for edge, (row, column) in enumerate(zip(*np.nonzero(mask), strict=True)):
        adjacency[row].append((n_rows + column, edge))
        adjacency[n_rows + column].append((row, edge))
    found = _tarjan_bridges(adjacency)
    edges = list(zip(*np.nonzero(mask), strict=True))
    return sorted((int(edges[e][0]), int(edges[e][1])) for e in found)


def _tarjan_bridges(adjacency: list[list[tuple[int, int]]]) -> set[int]:
    """Bridge edge ids of an undirected simple graph, iteratively (no recursion limit)."""
    order = [-1] * len(adjacency)
    low = [0] * len(adjacency)
    bridges: set[int] = set()
    counter = 0
    for start in range(len(adjacency)):
        if order[start] != -1:
            continue
        order[start] = low[start] = counter
        counter += 1
        stack = [(start, -1, iter(adjacency[start]))]
        while stack:
            node, via, neighbours = stack[-1]
            advanced = False
            for neighbour, edge in neighbours:
                if edge == via:
                    continue
                if order[neighbour] == -1:
                    order[neighbour] = low[neighbour] = counter
                    counter += 1
                    stack.append((neighbour, edge, iter(adjacency[neighbour])))
                    advanced = True
                    break
                low[node] = min(low[node], order[neighbour])
            if advanced:
                continue
            stack.pop()
            if stack:
                parent = stack[-1][0]
                low[parent] = min(low[parent], low[node])
                if low[node] > order[parent]:
                    bridges.add(via)
    return bridges


def _cheapest_path(mask, eligible, cost, row: int, column: int) -> list[tuple[int, int]] | None:
    """Entries on the cheapest row-to-column path that avoids entry ``(row, column)``.

    Nodes ``0..R`` are rows and ``R+1..`` columns; the graph is complete bipartite, so a
    dense Dijkstra in O(V^2) is the simple choice.
    """
    n_rows, n_columns = mask.shape
    weight = np.where(mask, 0.0, np.where(eligible, cost, np.inf))
    weight[row, column] = np.inf
    size = n_rows + n_columns
    distance = np.full(size, np.inf)
    previous = np.full(size, -1)
    done = np.zeros(size, dtype=bool)
    distance[row] = 0.0
    target = n_rows + column
    while not done[target]:
        node = int(np.argmin(np.where(done, np.inf, distance)))
        if not np.isfinite(distance[node]):
            return None
        done[node] = True
        if node < n_rows:
            step = weight[node, :]
            others = np.arange(n_rows, size)
        else:
            step = weight[:, node - n_rows]
            others = np.arange(n_rows)
        better = distance[node] + step < distance[others]
        distance[others[better]] = distance[node] + step[better]
        previous[others[better]] = node
    return _path_entries(previous, row, target, n_rows)


def _path_entries(previous: np.ndarray, start: int, target: int, n_rows: int):
    entries = []
    node = target
    while node != start:
        parent = int(previous[node])
        row, column = (parent, node - n_rows) if parent < n_rows else (node, parent - n_rows)
        entries.append((row, column))
        node = parent
    return entries
