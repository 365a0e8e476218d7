"""The model description: formulas, their term tables, and the registered presets.

Every model is a formula (lme4/brms syntax) turned into a term table
(:class:`~returnmodels.engine.design.FormulaDesign`, :mod:`returnmodels.engine.design`)
that one precompiled engine samples. A registered model is a named formula stored as
data (:data:`~returnmodels.models.presets.PRESETS`: formula, reference levels, priors,
documentation); :class:`~returnmodels.models.columns.ColumnSpec` names the columns a
preset is written for when the data are not case files. The dims and names every fit
carries are listed in ARCHITECTURE.md.

Importing this package does not import PyMC; only the PyMC model of a term table
(:mod:`returnmodels.models.pymc_model`, for ``--sampler pymc|numpyro``) does.
"""

from returnmodels.models.columns import CASE_FILE_SPEC, ColumnSpec, column_spec
from returnmodels.models.presets import PRESETS

#: The registered models' names, in the order ``returnmodels models`` lists them.
MODEL_NAMES: tuple[str, ...] = tuple(PRESETS)

__all__ = ["CASE_FILE_SPEC", "MODEL_NAMES", "PRESETS", "ColumnSpec", "column_spec"]
