"""``returnmodels release``: the explicit step from an analysis folder to a release folder.

An analysis folder (what ``returnmodels run``, ``returnmodels fit`` and the notebooks
write) may hold internal files: a posterior with its data groups, for refits and checks.
:func:`release_results` builds a new folder that holds only what passed output checking:

* every file is checked as ``returnmodels audit`` checks it (:func:`audit_file`); what
  passes is copied (a CSV with its marker), what fails is withheld, with its reasons;
* a posterior (``*.nc``) is written in its released form
  (:func:`~returnmodels.disclosure.posterior.released_posterior`), then checked;
* hidden and temporary files (the batch runner's ``.lock``, a run's ``.staging``
  folder) are not results: skipped, and listed as such;
* a figure whose source table was withheld is withheld too;
* ``release_manifest.json`` lists every released file with its SHA-256 and the check it
  passed, and every withheld file with the rules it broke (locations and rule names
  only: a reason never repeats the value that broke the rule).

The release folder appears whole or not at all, and the audit of it is clean by
construction (:func:`release_results` audits it before it is moved into place).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import xarray as xr

from returnmodels.disclosure.audit import (
    RELEASE_MANIFEST,
    audit_file,
    audit_results,
    file_kind,
    release_manifest_findings,
)
from returnmodels.disclosure.checks import CASE_ID_PATTERN, Finding
from returnmodels.disclosure.marker import MARKER_SUFFIX, marker_path
from returnmodels.disclosure.posterior import NETCDF_KEY, netcdf_findings, released_posterior
from returnmodels.disclosure.rules import DEFAULT_RULES, DisclosureRules
from returnmodels.errors import ConfigError
from returnmodels.files import check_new_folder, sha256_file, write_json

__all__ = ["CHECKS", "ReleaseReport", "release_results"]

#: The check each kind of released file passed, as the release manifest states it.
CHECKS: dict[str, str] = {
    "CSV": "disclosure marker present and matching; no identifiers or case rows; every "
    "count at least min_cases and rounded to rounding_base",
    "marker": "the disclosure marker of its CSV",
    "notebook": "every cell output: tables (counts), identifiers, embedded figures' marks",
    "HTML": "every table (counts), identifiers, embedded figures' marks",
    "JSON": "identifiers, printed tables, counts under count-like keys, record lists",
    "text": "printed tables (counts) and identifiers",
    "NetCDF": "released form, made here from the fit with its data: no data groups, no "
    "per-cell variables, only the parameters and levels resting on at least min_cases "
    "cases with and without each outcome, centres rounded, release mark with the rules",
    "figure": "mark of what it was drawn from; its source tables released and unchanged",
}


@dataclass(frozen=True)
class ReleaseReport:
    """What :func:`release_results` released and withheld."""

    out: Path
    rules: DisclosureRules
    released: dict[str, dict]
    withheld: dict[str, list[str]]
    skipped: tuple[str, ...] = ()

    def format(self) -> str:
        """One line per withheld file with its reasons, then a summary line."""
        lines = [
            f"withheld {name}: {'; '.join(reasons)}" for name, reasons in self.withheld.items()
        ]
        if self.skipped:
            lines.append(f"skipped (hidden or temporary, not results): {', '.join(self.skipped)}")
        lines.append(
            f"returnmodels release: wrote {self.out} with {len(self.released)} files "
            f"({len(self.withheld)} withheld) under "
            + ", ".join(f"{k}={v}" for k, v in self.rules.to_dict().items())
            + f"; manifest {RELEASE_MANIFEST}"
        )
        return "\n".join(lines)


def release_results(
    results: str | os.PathLike,
    out: str | os.PathLike,
    rules: DisclosureRules = DEFAULT_RULES,
    *,
    id_pattern: str = CASE_ID_PATTERN,
) -> ReleaseReport:
    """Write the release folder ``out`` of the analysis folder ``results`` (module docstring)."""
    results, out = Path(results), check_new_folder(out)
    if not results.is_dir():
        raise ConfigError(f"results folder {str(results)!r} does not exist or is not a folder")
    if out.resolve().is_relative_to(results.resolve()):
        raise ConfigError(f"release folder {str(out)!r} must lie outside {str(results)!r}")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        withheld, skipped = _copy_checked(results, staging, rules, id_pattern)
        withheld |= _withhold_dependents(staging, rules, id_pattern)
        released = _listing(staging)
        manifest = _manifest(results, rules, released, withheld) | {"skipped": skipped}
        write_json(manifest, staging / RELEASE_MANIFEST)
        _assert_clean(staging, rules, id_pattern)
        if out.exists():
            out.rmdir()
        os.replace(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return ReleaseReport(out, rules, released, withheld, tuple(skipped))


def _copy_checked(
    results: Path, staging: Path, rules, id_pattern
) -> tuple[dict[str, list[str]], list[str]]:
    withheld: dict[str, list[str]] = {}
    skipped: list[str] = []
    for path in sorted(p for p in results.rglob("*") if p.is_file()):
        relative = path.relative_to(results)
        if path.name.endswith(".csv" + MARKER_SUFFIX):
            continue
        if any(part.startswith(".") for part in relative.parts):
            skipped.append(str(relative))
            continue
        target = staging / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if file_kind(path) == "NetCDF":
            findings = _release_posterior(path, target, rules, str(relative), id_pattern)
        else:
            findings = audit_file(path, rules, source=str(relative), id_pattern=id_pattern)
            if not findings:
                _copy(path, target)
        if findings:
            target.unlink(missing_ok=True)
            withheld[str(relative)] = _reasons(findings)
    return withheld, skipped


def _release_posterior(path: Path, target: Path, rules, source: str, id_pattern) -> list:
    try:
        with xr.open_datatree(path, engine="h5netcdf") as tree:
            tree = tree.load()
    except (OSError, ValueError) as error:
        return [Finding(source, "file", type(error).__name__, "unreadable")]
    if NETCDF_KEY in tree.attrs:  # its data are gone: it cannot be checked again
        what = "a released posterior cannot be checked against its data: release its fit"
        return [Finding(source, "file", what, "internal-file")]
    try:
        tree = released_posterior(tree, rules)
    except (ConfigError, KeyError) as error:
        return [Finding(source, "file", f"cannot be released: {error}", "internal-file")]
    tree.to_netcdf(target, engine="h5netcdf")
    return netcdf_findings(target, rules, source=source, id_pattern=id_pattern)


def _copy(path: Path, target: Path) -> None:
    shutil.copy2(path, target)
    if marker_path(path).is_file():
        shutil.copy2(marker_path(path), marker_path(target))


def _withhold_dependents(staging: Path, rules, id_pattern) -> dict[str, list[str]]:
    """Remove what no longer passes once its sources were withheld (figures), until none."""
    withheld: dict[str, list[str]] = {}
    while True:
        report = audit_results(staging, rules, id_pattern=id_pattern)
        failing = sorted({f.source for f in report.findings})
        if not failing:
            return withheld
        if set(failing) <= set(withheld):  # pragma: no cover - removing did not help
            raise ConfigError("release: cannot remove " + ", ".join(failing))
        for name in failing:
            (staging / name).unlink(missing_ok=True)
            marker_path(staging / name).unlink(missing_ok=True)
            withheld[name] = _reasons([f for f in report.findings if f.source == name])


def _reasons(findings: list[Finding]) -> list[str]:
    """Locations and rules, never the values that broke them."""
    return list(dict.fromkeys(f"{f.location}: {f.rule}" for f in findings))


def _listing(staging: Path) -> dict[str, dict]:
    listed = {}
    for path in sorted(p for p in staging.rglob("*") if p.is_file()):
        marker = path.name.endswith(".csv" + MARKER_SUFFIX)
        kind = "marker" if marker else file_kind(path)
        listed[str(path.relative_to(staging))] = {
            "sha256": sha256_file(path),
            "kind": kind,
            "check": CHECKS[kind],
        }
    return listed


def _manifest(results: Path, rules, released: dict, withheld: dict) -> dict:
    return {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "from": results.name,
        "rules": rules.to_dict(),
        "files": released,
        "withheld": withheld,
    }


def _assert_clean(staging: Path, rules, id_pattern) -> None:
    """Every file passed the audit in :func:`_withhold_dependents`; what the manifest adds
    is checked here, without reading every file again."""
    findings = release_manifest_findings(staging)
    if findings:  # pragma: no cover - a bug in the release step, not bad input
        raise ConfigError("release folder disagrees with its manifest: " + str(findings[0]))
