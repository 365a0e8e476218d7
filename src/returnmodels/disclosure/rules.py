"""The thresholds of statistical disclosure control, as one validated, frozen value.

Defaults follow the common output rules for administrative microdata (CBS, ONS, ABS,
OpenSAFELY): at least ``min_cases = 10`` cases behind every published count, published
counts rounded to the nearest multiple of ``rounding_base = 5`` (halves up), and zeros
published as 0 (a zero describes nobody) unless ``suppress_zeros`` is set.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields

import numpy as np
import pandas as pd

from returnmodels.errors import ConfigError

__all__ = [
    "DEFAULT_RULES",
    "DisclosureRules",
    "publishable",
    "round_counts",
    "smallest_published",
]


@dataclass(frozen=True)
class DisclosureRules:
    """Output rules: who may be counted, and how published counts are shown.

    - ``min_cases``: a count, and each of the two counts behind a share, is published
      only if it is at least this (or zero, see ``suppress_zeros``); groups with fewer
      cases are pooled or withheld.
    - ``rounding_base``: published counts are rounded to the nearest multiple (halves
      up); 1 publishes exact counts.
    - ``suppress_zeros``: when true, zero counts are suppressed like small ones; by
      default a zero is published, as it describes no person.
    """

    min_cases: int = 10
    rounding_base: int = 5
    suppress_zeros: bool = False

    def __post_init__(self) -> None:
        _check_positive_int("min_cases", self.min_cases)
        _check_positive_int("rounding_base", self.rounding_base)
        if not isinstance(self.suppress_zeros, bool | np.bool_):
            raise ConfigError(
                f"suppress_zeros={self.suppress_zeros!r} is not allowed: use True or False"
            )

    def to_dict(self) -> dict[str, int | bool]:
        """The settings as plain JSON types, for manifests and output markers."""
        return {key: _plain(value) for key, value in asdict(self).items()}

    @classmethod
    def from_dict(cls, settings: Mapping[str, object]) -> DisclosureRules:
        """Rebuild rules from :meth:`to_dict`; unknown keys are a :class:`ConfigError`."""
        known = {field.name for field in fields(cls)}
        unknown = sorted(set(settings) - known)
        if unknown:
            raise ConfigError(f"unknown disclosure settings {unknown}: allowed are {sorted(known)}")
        return cls(**dict(settings))

    def at_least_as_strict_as(self, other: DisclosureRules) -> bool:
        """Whether every output these rules allow is also allowed by ``other``."""
        return (
            self.min_cases >= other.min_cases
            and self.rounding_base % other.rounding_base == 0
            and (self.suppress_zeros or not other.suppress_zeros)
        )


def _check_positive_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ConfigError(f"{name}={value!r} is not allowed: use a whole number of at least 1")


def _plain(value: object) -> int | bool:
    return bool(value) if isinstance(value, bool | np.bool_) else int(value)


DEFAULT_RULES = DisclosureRules()


def round_counts(values: pd.Series | np.ndarray, base: int) -> pd.Series | np.ndarray:
    """Round to the nearest multiple of ``base``, halves up; NaN stays NaN.

    Rounding is monotone, so a count of at least ``min_cases`` never rounds below
    ``round_counts(min_cases, base)``: :func:`smallest_published`.
    """
    if isinstance(values, pd.Series):
        return np.floor(values.astype(float) / base + 0.5) * base
    return np.floor(np.asarray(values, dtype=float) / base + 0.5) * base


def publishable(values: pd.Series | np.ndarray, rules: DisclosureRules) -> np.ndarray:
    """True where an (unrounded) count may be published: at least ``min_cases``, or zero
    when zeros are not suppressed. NaN is never publishable."""
    values = np.asarray(values, dtype=float)
    zero_ok = (values == 0) & (not rules.suppress_zeros)
    return (values >= rules.min_cases) | zero_ok


def smallest_published(rules: DisclosureRules) -> int:
    """The smallest non-zero count that can appear in a controlled output."""
    return int(round_counts(np.array([rules.min_cases]), rules.rounding_base)[0])
