"""The model library: one documented builder per file, listed in a registry.

Contract (dims, names, coords) that every builder, summary, notebook and saved result
relies on:

Dims
    ``cell``: binomial cells, one per observed combination of the group and every
    predictor (:func:`returnmodels.data.cells.aggregate_cells`), in sorted order;
    ``<group>``: the grouping column's name (``nationality`` for case files, e.g.
    ``herd`` for other data), coords the sorted group codes as text;
    ``<predictor>_level``: the non-reference levels of a categorical predictor (as text);
    ``<group>_term``: ``Intercept`` and the slope predictor (``varying_slopes``);
    ``<group>_centred`` / ``<group>_noncentred``: the groups of each parameterisation;
    ``outcome`` (six, schema order), ``competing_outcome`` (the five other than
    assisted return), ``nonreference_outcome`` (those four without the reference
    ``unsupervised_departure``) in ``competing_outcomes``.

Parameters (bambi style)
    ``Intercept_centred`` (sampled: the intercept at the case-weighted means of numeric
    predictors) and ``Intercept`` (deterministic: at numeric predictors = 0, reference
    levels); one variable per predictor, named after it: numeric predictors one
    coefficient (``n_procedures``, ``family``), categorical ones a vector over
    ``<predictor>_level`` (``gender``, ``closing_year``, ``cooperation``);
    ``<group>_sigma``; ``<group>_effect`` (dim ``<group>``: the group's deviation on the
    logit scale from its mean, :math:`\\beta_0 + z_j^\\top\\gamma`), sampled centred as
    ``<group>_intercept`` (the group's own intercept, dim ``<group>_centred``) where the
    group's counts are informative and non-centred as ``<group>_offset`` (standard
    normal, dim ``<group>_noncentred``) elsewhere (``varying_slopes``: non-centred
    ``<group>_offset`` for every group, dims ``(<group>, <group>_term)``);
    ``varying_slopes`` adds ``<group>_<slope>_effect``, ``<group>_<slope>_sigma``,
    ``<group>_corr``; ``competing_outcomes`` adds every stage-1 name again with prefix
    ``competing_`` and leading dim ``nonreference_outcome``.

Observed
    ``assisted`` for case files (else the user's outcome or successes column), dim
    ``cell``; the trials are in ``constant_data`` (``cell_trials``) next to the cells'
    predictor values (``cell_<column>``) and the group table (``<group>_<predictor>``).

Effects are on the logit scale in the posterior; summaries report odds ratios and
probabilities.

Importing this package (the design, the NumPy prediction mirror in
:mod:`returnmodels.models.prediction`) does not import PyMC; the builders and their
registry (:mod:`returnmodels.models.registry`) do.
"""

from returnmodels.models.design import CASE_FILE_SPEC, ColumnSpec, Design, build_design, column_spec

#: The registered models' names, in the order ``returnmodels models`` lists them; the
#: builders themselves (and PyMC) are in :mod:`returnmodels.models.registry`.
MODEL_NAMES: tuple[str, ...] = (
    "pooled",
    "varying_intercepts",
    "group_predictors",
    "varying_slopes",
    "competing_outcomes",
)

__all__ = [
    "CASE_FILE_SPEC",
    "MODEL_NAMES",
    "ColumnSpec",
    "Design",
    "build_design",
    "column_spec",
]
