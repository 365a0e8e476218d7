"""The provenance mark of a figure: what a PNG was drawn from, inside the PNG itself.

A figure is as disclosive as the numbers it draws (a bar of 3 cases is a cell of 3), and
a picture cannot be read back into numbers. So every figure returnmodels writes carries,
in a PNG text chunk named :data:`PNG_KEY`, a JSON declaration of its basis:

* ``{"basis": "tables", "sources": {"margins.csv": "<sha256>", ...}}``: drawn only from
  these controlled tables of the same folder (each written with its disclosure marker);
* ``{"basis": "population" | "diagnostics" | "simulated" | "public"}``: drawn from no
  table, and showing only what :data:`FIGURE_BASES` says (population-level parameters,
  MCMC diagnostics of them, simulated data, published aggregate figures);

with the rules it was made under. Like :func:`~returnmodels.disclosure.mark_controlled`
for a frame, the mark is its author's declaration; ``returnmodels audit`` refuses a PNG
without one, with weaker rules, or whose source tables are missing, unmarked or changed.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from returnmodels.disclosure.checks import Finding
from returnmodels.disclosure.marker import marker_path
from returnmodels.disclosure.rules import DisclosureRules
from returnmodels.errors import ConfigError
from returnmodels.files import sha256_file

__all__ = ["FIGURE_BASES", "PNG_KEY", "figure_marker", "png_findings", "read_png_marker"]

#: The PNG text chunk that holds a figure's mark.
PNG_KEY = "returnmodels-disclosure"

#: What a figure may be drawn from, when not from controlled tables.
FIGURE_BASES: dict[str, str] = {
    "tables": "controlled tables of the same folder, named in the mark",
    "population": "population-level quantities only: no per-group or per-cell value",
    "diagnostics": "MCMC diagnostics (ranks, traces) of population-level parameters",
    "simulated": "simulated data only, no case data",
    "public": "published aggregate figures only",
}


def figure_marker(
    rules: DisclosureRules, basis: str, sources: Mapping[str, str] | None = None
) -> dict:
    """The mark of a figure drawn under ``rules`` from ``basis`` (``sources``: table file
    name -> its SHA-256, required exactly when ``basis`` is ``"tables"``)."""
    if basis not in FIGURE_BASES:
        raise ConfigError(f"figure basis {basis!r} is not one of {sorted(FIGURE_BASES)}")
    if (basis == "tables") != bool(sources):
        raise ConfigError("a figure drawn from tables names its source tables, and only then")
    marker = {"rules": rules.to_dict(), "basis": basis}
    return marker | ({"sources": dict(sources)} if sources else {})


def read_png_marker(png: bytes | str | Path) -> dict | None:
    """The mark inside a PNG (bytes or a path), or ``None`` if it carries none.

    Raises :class:`ConfigError` when the bytes are not a PNG or the mark is malformed.
    """
    data = png if isinstance(png, bytes) else Path(png).read_bytes()
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format != "PNG":
                raise ConfigError(f"not a PNG image but {image.format}")
            text = dict(getattr(image, "text", {}) or {})
    except (UnidentifiedImageError, OSError) as error:
        raise ConfigError(f"not a readable PNG image: {error}") from None
    if PNG_KEY not in text:
        return None
    try:
        marker = json.loads(text[PNG_KEY])
        DisclosureRules.from_dict(marker["rules"])
        if marker["basis"] not in FIGURE_BASES:
            raise ValueError(f"unknown basis {marker['basis']!r}")
    except (ValueError, KeyError, TypeError) as error:
        raise ConfigError(f"malformed figure mark: {error}") from None
    return marker


def png_findings(
    png: bytes | Path,
    rules: DisclosureRules,
    *,
    source: str,
    where: str = "",
    folder: Path | None = None,
) -> list[Finding]:
    """Findings of one figure: no mark, a malformed one, weaker rules, or (with
    ``folder``, where its source tables must lie) sources missing, unmarked or changed."""
    try:
        marker = read_png_marker(png)
    except ConfigError as error:
        return [Finding(source, f"{where}figure", str(error), "figure-unmarked")]
    if marker is None:
        return [Finding(source, f"{where}figure", f"no {PNG_KEY} mark", "figure-unmarked")]
    findings = []
    made_under = DisclosureRules.from_dict(marker["rules"])
    if not made_under.at_least_as_strict_as(rules):
        shown = ", ".join(f"{k}={v}" for k, v in made_under.to_dict().items())
        findings.append(Finding(source, f"{where}figure", shown, "weaker-rules"))
    if folder is not None:
        for name, checksum in marker.get("sources", {}).items():
            findings += _source_findings(folder / name, checksum, source, where)
    return findings


def _source_findings(table: Path, checksum: str, source: str, where: str) -> list[Finding]:
    location = f"{where}figure source {table.name}"
    if not table.is_file() or not marker_path(table).is_file():
        return [Finding(source, location, "missing or without its marker", "figure-source")]
    if sha256_file(table) != checksum:
        return [Finding(source, location, f"sha256 {checksum[:12]} changed", "figure-source")]
    return []
