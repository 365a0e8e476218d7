"""Statistical disclosure control: pure functions applied once, at the output boundary.

Notebooks and the batch pass every table derived from case data through one of the
``control_*`` functions and write it with :func:`write_controlled_csv`;
``returnmodels audit`` then checks a results folder for anything that slipped through.
The rules are in :class:`DisclosureRules`; the text for readers is ``docs/disclosure.md``.
"""

from __future__ import annotations

from returnmodels.disclosure.checks import (
    CASE_ID_PATTERN,
    RULES,
    DisclosureError,
    Finding,
    assert_not_case_level,
    check_table,
)
from returnmodels.disclosure.control import (
    control_counts,
    control_groups,
    control_shares,
    pool_small_groups,
)
from returnmodels.disclosure.marker import (
    MARKER_SUFFIX,
    controlled_rules,
    is_controlled,
    mark_controlled,
    marker_path,
    read_marker,
    write_controlled_csv,
)
from returnmodels.disclosure.rules import (
    DEFAULT_RULES,
    DisclosureRules,
    publishable,
    round_counts,
    smallest_published,
)

__all__ = [
    "CASE_ID_PATTERN",
    "DEFAULT_RULES",
    "MARKER_SUFFIX",
    "RULES",
    "DisclosureError",
    "DisclosureRules",
    "Finding",
    "assert_not_case_level",
    "check_table",
    "control_counts",
    "control_groups",
    "control_shares",
    "controlled_rules",
    "is_controlled",
    "mark_controlled",
    "marker_path",
    "pool_small_groups",
    "publishable",
    "read_marker",
    "round_counts",
    "smallest_published",
    "write_controlled_csv",
]
