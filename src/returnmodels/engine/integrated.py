r"""A per-unit intercept integrated out of the likelihood: ``(1 | person_id)``.

One return case is one case file, and one person may have several. A person effect
:math:`v_i \sim \mathcal N(0, \sigma^2)` on the log-odds of every case of person
:math:`i` is one scalar per person, independent across persons given everything else,
so the likelihood of the person's cases is a one-dimensional integral, done by K-node
Gauss-Hermite quadrature (nodes :math:`x_k`, weights :math:`w_k` of
:math:`\int e^{-x^2} f(x)\,dx`):

.. math::

    p(y_i) = \int \prod_j \operatorname{Bernoulli}\big(y_{ij} \mid
        \operatorname{logit}^{-1}(\eta_{c_{ij}} + v)\big)\, \mathcal N(v \mid 0, \sigma^2)\, dv
    \approx \sum_k \frac{w_k}{\sqrt\pi} \prod_j \operatorname{Bernoulli}\big(y_{ij} \mid
        \operatorname{logit}^{-1}(\eta_{c_{ij}} + \sqrt2\,\sigma x_k)\big)

with :math:`\eta_c` the linear predictor of the case's cell without the person. Exact
to quadrature error: no Laplace approximation (lme4's and glmmTMB's default, at its
worst on binary data with one to three cases a person) and no per-person effect for
the sampler, which sees :math:`\sigma` alone beside the other parameters.

The data collapse. A person's likelihood depends on the person only through the
*pattern* of the person's cases, the multiset of (cell, outcome) pairs, so persons are
de-duplicated into patterns with counts, and the log-likelihood is
:math:`\sum_p n_p \log p(\text{pattern } p)`. A single-case person's pattern is one
(cell, outcome) pair: those persons are the ordinary binomial cells with the
logistic-normal probability :math:`\bar p_c = \sum_k (w_k/\sqrt\pi)
\operatorname{logit}^{-1}(\eta_c + \sqrt2\sigma x_k)`, their successes counting
:math:`\log\bar p_c` and their failures :math:`\log(1 - \bar p_c)` (the binomial
coefficient left out, as everywhere in the engine).

The cost. The quadrature is the same for every pattern (the nodes are data, not centred
at each pattern's mode), so every entry of every pattern needs the logistic probability
of its cell at every node, :math:`p_{ck} = \operatorname{logit}^{-1}(\eta_c +
\sqrt2\sigma x_k)`, from one exponential a cell and one a node, :math:`e^{\eta_c +
\sqrt2\sigma x_k} = e^{\eta_c} e^{\sqrt2\sigma x_k}`, and a division; a pattern's
likelihood is the weighted sum over the nodes of the product of its entries' :math:`p`
(a success) or :math:`1 - p` (a failure), so a gradient takes one logarithm a pattern and
otherwise products and sums (:mod:`returnmodels.engine.unit_kernel`, one compiled pass in
blocks of patterns of one length). On the bundled data (1,199 cells; 96,768 persons in
3,446 patterns of 6,199 entries, 1,486 patterns holding the 79,438 persons of one case)
the persons' part takes about 0.18 ms a gradient against 4.2 ms for the same quadrature
in log space, an exponential and a logarithm an entry and node, and the engine's whole
gradient 0.24 ms against 4.2 (0.07 without the person term; ``benchmarks/units.py``, a
shared 2-core machine). The log form stays for the points the product form cannot
represent (a pattern's likelihood below :math:`10^{-280}` or not finite,
:data:`returnmodels.engine.unit_kernel.PRODUCT_FLOOR`), far out in warm-up: both forms
compute the same sum, to rounding.

Which terms are integrated (:func:`integration_reason`): an intercept-only group term
of a plain factor, when the user marks its factor (``integrate=["person_id"]``) or
when its levels are many and small (:data:`AUTO_MIN_LEVELS` levels or more, fewer than
:data:`AUTO_MAX_CASES_PER_LEVEL` cases a level on average), where sampling one effect a
level would cost the sampler a dimension a level for effects that their data barely
inform. The reason is recorded with the fit.

No PyMC, no PyTensor: plain arrays that :mod:`returnmodels.engine.graph`
hands to the engine as data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = [
    "AUTO_MAX_CASES_PER_LEVEL",
    "AUTO_MIN_LEVELS",
    "QUADRATURE_NODES",
    "IntegratedTerm",
    "integration_reason",
    "unit_patterns",
    "without_group_term",
]

#: The automatic rule: a group of at least this many levels ...
AUTO_MIN_LEVELS = 500
#: ... and fewer than this many cases a level on average is integrated, not sampled.
AUTO_MAX_CASES_PER_LEVEL = 3.0
#: Gauss-Hermite nodes of the integral (not adaptive: the nodes are data, the same for
#: every pattern). Relative error of the log-likelihood on 3,000 simulated cases, against
#: 40 nodes: at 30 nodes 1e-13 at a person SD of 1, 1e-10 at 1.5, 5e-8 at 2, 1e-6 at
#: 2.5; at 15 nodes 1e-9, 5e-7, 2e-6 and 1e-5.
QUADRATURE_NODES = 30


@dataclass(frozen=True)
class IntegratedTerm:
    """An intercept group term integrated out (module docstring): its factor, why,
    and the units' outcome patterns as flat entries.

    Entry ``e`` is one case of pattern ``entry_pattern[e]``: its cell ``entry_cell[e]``
    (of the design without the term) and outcome ``entry_y[e]`` (0/1); pattern ``p``
    stands for ``pattern_count[p]`` units."""

    factor: str
    reason: str
    n_levels: int
    entry_cell: np.ndarray = field(repr=False)
    entry_y: np.ndarray = field(repr=False)
    entry_pattern: np.ndarray = field(repr=False)
    pattern_count: np.ndarray = field(repr=False)
    nodes: int = QUADRATURE_NODES

    @property
    def sigma_name(self) -> str:
        return f"{self.factor}_sigma"

    @property
    def n_patterns(self) -> int:
        return len(self.pattern_count)

    def describe(self) -> dict:
        """What the fit's record says of the term (JSON-ready): no pattern, no unit."""
        return {
            "factor": self.factor,
            "integrated": "Gauss-Hermite quadrature",
            "quadrature_nodes": self.nodes,
            "reason": self.reason,
            "n_levels": self.n_levels,
            "n_patterns": self.n_patterns,
        }


def integration_reason(
    factor: str, columns: list[str], cases_per_level: pd.Series, marked: bool
) -> str | None:
    """Why the group term ``(columns | factor)`` is integrated out, or None when it is
    sampled: marked by the user, or chosen because its levels are many and small
    (:data:`AUTO_MIN_LEVELS`, :data:`AUTO_MAX_CASES_PER_LEVEL`). Only an intercept of a
    plain (not nested) factor qualifies; the caller refuses a marked term that does not."""
    if columns != ["1"] or ":" in factor:
        return None
    if marked:
        return "marked by the user (integrate=...)"
    n_levels, mean = len(cases_per_level), float(cases_per_level.mean())
    if n_levels >= AUTO_MIN_LEVELS and mean < AUTO_MAX_CASES_PER_LEVEL:
        return (
            f"chosen by the engine: {n_levels} levels of {mean:.2f} cases on average (rule: at "
            f"least {AUTO_MIN_LEVELS} levels and fewer than {AUTO_MAX_CASES_PER_LEVEL:g} "
            "cases a level are integrated, not sampled)"
        )
    return None


def without_group_term(formula: str, factor: str) -> str:
    """``formula`` without its ``(1 | factor)`` term (``~ 1`` where nothing is left)."""
    term = rf"\(\s*1\s*\|\s*{re.escape(factor)}\s*\)"
    for pattern in (rf"\s*\+\s*{term}", rf"{term}\s*\+\s*"):
        reduced, found = re.subn(pattern, "", formula, count=1)
        if found:
            return reduced
    reduced, found = re.subn(term, "1", formula, count=1)
    if not found:
        raise ValueError(f"no '(1 | {factor})' in {formula!r}")
    return reduced


def unit_patterns(
    cell: np.ndarray, y: np.ndarray, unit: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(entry_cell, entry_y, entry_pattern, pattern_count)``: the cases (``cell``,
    outcome ``y`` 0/1, ``unit`` label, one a case) de-duplicated into outcome patterns,
    the sorted tuple of a unit's (cell, outcome) pairs, with the number of units of each.
    Single-case units first (a pattern per cell and outcome, by cell and outcome), then
    the others by length and content.

    As arrays throughout: a unit of several cases is a row of its length and its sorted
    codes (:math:`2c + y`), padded, and the patterns are the distinct rows, which
    ``np.unique`` sorts by length and then content."""
    code = np.asarray(cell, dtype=np.int64) * 2 + np.asarray(y, dtype=np.int64)
    units = pd.factorize(np.asarray(unit))[0]
    size = np.bincount(units)[units]
    single_codes, single_counts = np.unique(code[size == 1], return_counts=True)
    several = np.flatnonzero(size > 1)
    order = several[np.lexsort((code[several], units[several]))]
    owner, codes = units[order], code[order]
    starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]]) if owner.size else owner
    lengths = np.diff(np.r_[starts, owner.size])
    rows = np.full((starts.size, 1 + (int(lengths.max()) if lengths.size else 0)), -1)
    rows[:, 0] = lengths
    rows[np.repeat(np.arange(starts.size), lengths), 1 + np.arange(owner.size) - np.repeat(
        starts, lengths)] = codes  # fmt: skip
    keys, counts = np.unique(rows, axis=0, return_counts=True)
    filled = np.arange(keys.shape[1] - 1)[None, :] < keys[:, :1]
    flat = np.concatenate([single_codes, keys[:, 1:][filled]]).astype(np.int64)
    sizes = np.concatenate([np.ones(single_codes.size, dtype=np.int64), keys[:, 0]])
    pattern = np.repeat(np.arange(sizes.size, dtype=np.int64), sizes)
    counts = np.concatenate([single_counts, counts]).astype(float)
    return flat // 2, (flat % 2).astype(float), pattern, counts
