"""The synthetic world's fixed shape: nationalities, sizes, years and case mix.

Everything here is a published figure or a documented modelling choice; nothing is
random. :mod:`returnmodels.simulate.generator` draws cases from these profiles.

Sources (see ``data/README.md``):

* cases per closing year follow DT&V's published departures of its own caseload,
  2017-2023 (2023 published for January-October only, annualised here);
* nationality sizes follow a rank profile ``w_r = r**-0.3 * exp(-0.06 r)`` over 120
  nationalities: a handful with thousands of cases and a tail of about twenty with
  fewer than ten at 118,000 cases, the shape of the CBS 2023 counts of third-country
  nationals ordered to leave (table 85333NED), which are heavy at the top and long-tailed;
* the nationalities that matter in Dutch return caseloads (MAR, DZA, NGA, IRQ, TUR,
  GEO, ALB, IRN, MDA, IND, AFG, SYR) are the largest;
* cooperation levels are a plausible synthetic assignment (most cases come from medium-
  or high-cooperation countries, as CALIBRATION.md requires), not an official rating.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "AGE_GROUP_SHARES",
    "CASES_PER_YEAR",
    "FAMILY_SHARE",
    "GENDER_SHARES",
    "NATIONALITIES",
    "WINDOW_CASES_PER_PERSON",
    "nationality_weights",
]

#: (ISO 3166-1 alpha-3, cooperation with forced return), largest caseload first.
NATIONALITIES: tuple[tuple[str, str], ...] = (
    ("MAR", "medium"), ("DZA", "medium"), ("NGA", "high"), ("IRQ", "medium"),
    ("TUR", "high"), ("GEO", "high"), ("ALB", "high"), ("IRN", "low"),
    ("MDA", "high"), ("IND", "high"), ("AFG", "medium"), ("SYR", "low"),
    ("EGY", "medium"), ("TUN", "medium"), ("PAK", "medium"), ("BGD", "high"),
    ("CHN", "medium"), ("UKR", "high"), ("RUS", "medium"), ("ERI", "low"),
    ("SOM", "low"), ("GHA", "high"), ("GIN", "medium"), ("BRA", "high"),
    ("COL", "high"), ("SUR", "high"), ("SRB", "high"), ("MKD", "high"),
    ("ARM", "high"), ("AZE", "medium"), ("LBY", "low"), ("SDN", "low"),
    ("ETH", "low"), ("YEM", "low"), ("LBN", "medium"), ("SEN", "high"),
    ("CMR", "medium"), ("SLE", "medium"), ("LKA", "high"), ("VNM", "medium"),
    ("MNG", "high"), ("BIH", "high"), ("KAZ", "high"), ("UZB", "medium"),
    ("TJK", "medium"), ("BLR", "medium"), ("PSE", "low"), ("JOR", "medium"),
    ("KWT", "medium"), ("SAU", "medium"), ("PHL", "high"), ("IDN", "high"),
    ("THA", "high"), ("MYS", "high"), ("NPL", "high"), ("PER", "high"),
    ("ECU", "high"), ("VEN", "low"), ("CUB", "low"), ("DOM", "high"),
    ("MEX", "high"), ("ARG", "high"), ("CHL", "high"), ("BOL", "high"),
    ("PRY", "high"), ("HND", "high"), ("SLV", "high"), ("GTM", "high"),
    ("NIC", "medium"), ("HTI", "low"), ("JAM", "high"), ("TTO", "high"),
    ("GUY", "high"), ("CIV", "medium"), ("MLI", "low"), ("BFA", "medium"),
    ("NER", "medium"), ("TCD", "medium"), ("COD", "low"), ("COG", "medium"),
    ("AGO", "medium"), ("ZWE", "medium"), ("ZAF", "high"), ("KEN", "high"),
    ("UGA", "medium"), ("TZA", "medium"), ("RWA", "medium"), ("BDI", "medium"),
    ("CAF", "medium"), ("GMB", "high"), ("LBR", "medium"), ("TGO", "medium"),
    ("BEN", "medium"), ("MRT", "medium"), ("SSD", "low"), ("DJI", "medium"),
    ("MDG", "medium"), ("MOZ", "medium"), ("ZMB", "medium"), ("MWI", "medium"),
    ("NAM", "high"), ("BWA", "high"), ("KGZ", "high"), ("TKM", "medium"),
    ("MMR", "low"), ("KHM", "medium"), ("LAO", "medium"), ("BTN", "medium"),
    ("MDV", "high"), ("FJI", "high"), ("PNG", "medium"), ("XXA", "low"),
    ("XXX", "low"), ("CPV", "high"), ("STP", "high"), ("COM", "medium"),
    ("GNB", "medium"), ("GNQ", "medium"), ("SYC", "high"), ("MUS", "high"),
)  # fmt: skip

#: DT&V departures of its own caseload by year (2023: Jan-Oct 8,770 annualised x 12/10).
CASES_PER_YEAR: dict[int, float] = {
    2017: 15_120, 2018: 14_880, 2019: 16_880, 2020: 11_160,
    2021: 9_330, 2022: 8_610, 2023: 10_524,
}  # fmt: skip

GENDER_SHARES: dict[str, float] = {"male": 0.74, "female": 0.24, "unknown": 0.02}
AGE_GROUP_SHARES: dict[str, float] = {
    "0-17": 0.12, "18-29": 0.38, "30-44": 0.34, "45-64": 0.14, "65+": 0.02,
}  # fmt: skip
#: P(family | age group): minors are mostly accompanied, adults sometimes with a partner.
FAMILY_SHARE: dict[str, float] = {
    "0-17": 0.80, "18-29": 0.08, "30-44": 0.16, "45-64": 0.12, "65+": 0.10,
}  # fmt: skip

#: How many cases a person has closed inside the 2017-2023 window: P(1), P(2), P(3).
WINDOW_CASES_PER_PERSON: tuple[float, ...] = (0.82, 0.14, 0.04)

#: Rank profile of nationality sizes: ``w_r = r**-SIZE_POWER * exp(-SIZE_DECAY * r)``.
SIZE_POWER = 0.3
SIZE_DECAY = 0.06


def nationality_weights() -> np.ndarray:
    """Probability that a person has each nationality, in :data:`NATIONALITIES` order."""
    rank = np.arange(1, len(NATIONALITIES) + 1, dtype=float)
    weights = rank**-SIZE_POWER * np.exp(-SIZE_DECAY * rank)
    return weights / weights.sum()
