"""Calibration targets: the published figures the synthetic data must reproduce.

From the shared CALIBRATION.md (the MPI Europe study's predictive margins) and DT&V's
published departures by year (``data/dtv_departures_by_year.csv``).
"""

from __future__ import annotations

__all__ = [
    "COOPERATION_MARGINS",
    "DEPARTURE_SPLIT_BY_YEAR",
    "NON_DEPARTURE_SHARES",
    "PROCEDURE_MARGINS",
    "ASSISTED_SHARE",
    "outcome_shares_by_year",
]

#: Predictive margins of assisted return by number of procedures (study figures).
PROCEDURE_MARGINS: dict[int, float] = {1: 0.19, 3: 0.09, 6: 0.02}
#: Predictive margins of assisted return by the origin country's cooperation.
COOPERATION_MARGINS: dict[str, float] = {"high": 0.11, "low": 0.05}

#: DT&V departures by year: verified (independent or assisted), forced, unsupervised.
#: Shares of the published counts (2023: January-October).
_DEPARTURES: dict[int, tuple[int, int, int]] = {
    2017: (3_400, 2_700, 9_020),
    2018: (3_610, 2_650, 8_620),
    2019: (4_460, 2_760, 9_660),
    2020: (2_630, 1_650, 6_880),
    2021: (2_100, 1_630, 5_600),
    2022: (2_450, 1_850, 4_310),
    2023: (2_820, 1_990, 3_960),
}
DEPARTURE_SPLIT_BY_YEAR: dict[int, tuple[float, float, float]] = {
    year: (v / sum(counts), f / sum(counts), u / sum(counts))
    for year, counts in _DEPARTURES.items()
    for v, f, u in [counts]
}
#: Cases that close without a departure, as shares of all cases (CALIBRATION.md).
NON_DEPARTURE_SHARES: dict[str, float] = {"legal_stay": 0.20, "other": 0.08}
#: Overall share of cases that end in assisted return (CALIBRATION.md: about 10%).
ASSISTED_SHARE = 0.10
#: Cases per closing year, as weights for the overall share (DT&V departures, 2023
#: annualised from its January-October figure).
_YEAR_WEIGHTS = {year: sum(c) for year, c in _DEPARTURES.items()} | {2023: 8_770 * 1.2}


def outcome_shares_by_year() -> dict[int, dict[str, float]]:
    """Target share of each of the six outcomes among the cases closed in each year.

    Departures take ``1 - legal_stay - other`` of the cases, split as DT&V's published
    departures of that year. Verified departures split into assisted and independent
    return in the same ratio every year, chosen so that assisted return is
    :data:`ASSISTED_SHARE` of all cases (about 10:8).
    """
    departed = 1.0 - sum(NON_DEPARTURE_SHARES.values())
    verified_overall = sum(
        _YEAR_WEIGHTS[y] * split[0] for y, split in DEPARTURE_SPLIT_BY_YEAR.items()
    ) / sum(_YEAR_WEIGHTS.values())
    assisted_part = ASSISTED_SHARE / (departed * verified_overall)
    shares = {}
    for year, (verified, forced, unsupervised) in DEPARTURE_SPLIT_BY_YEAR.items():
        shares[year] = {
            "assisted_return": departed * verified * assisted_part,
            "independent_return": departed * verified * (1 - assisted_part),
            "forced_return": departed * forced,
            "unsupervised_departure": departed * unsupervised,
            **NON_DEPARTURE_SHARES,
        }
    return shares
