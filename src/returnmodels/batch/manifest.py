"""A run's ``manifest.json``: provenance, inputs fingerprint and the list of its outputs.

The fingerprint hashes everything a run's results depend on: the notebook's bytes, the
parameters, the SHA-256 of every parameter that names a file, the package versions and
the fingerprints of the runs it comes ``after``. A run whose fingerprint is unchanged
and whose outputs are all present with the recorded sizes and hashes is up to date.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from returnmodels.files import sha256_file
from returnmodels.versions import PACKAGES, git_commit, package_versions

__all__ = [
    "MANIFEST",
    "PACKAGES",
    "file_inputs",
    "fingerprint",
    "git_commit",
    "is_complete",
    "list_outputs",
    "package_versions",
    "read_manifest",
]

MANIFEST = "manifest.json"


def file_inputs(parameters: dict[str, Any]) -> dict[str, dict[str, str]]:
    """``{parameter: {path, sha256}}`` for every parameter naming an existing file."""
    found = {}
    for key, value in sorted(parameters.items()):
        if isinstance(value, str) and value.startswith("/") and Path(value).is_file():
            found[key] = {"path": value, "sha256": sha256_file(value)}
    return found


def fingerprint(
    notebook_sha256: str,
    parameters: dict[str, Any],
    files: dict[str, dict[str, str]],
    upstream: dict[str, str],
) -> str:
    """SHA-256 of a run's inputs, as canonical JSON."""
    document = {
        "notebook_sha256": notebook_sha256,
        "parameters": parameters,
        "files": {k: v["sha256"] for k, v in files.items()},
        "versions": package_versions(),
        "upstream": upstream,
    }
    text = json.dumps(document, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def list_outputs(folder: Path) -> dict[str, dict[str, Any]]:
    """``{relative path: {bytes, sha256}}`` of every file under ``folder`` but the manifest."""
    outputs = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        relative = path.relative_to(folder).as_posix()
        if relative != MANIFEST:
            outputs[relative] = {"bytes": path.stat().st_size, "sha256": sha256_file(path)}
    return outputs


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """The manifest in ``folder``, or None when there is none or it cannot be read."""
    try:
        return json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def is_complete(folder: Path, expected_fingerprint: str) -> bool:
    """True when ``folder`` holds an ``ok`` manifest with this fingerprint and every output
    it lists is present with the recorded size and SHA-256."""
    manifest = read_manifest(folder)
    if not manifest or manifest.get("status") != "ok":
        return False
    if manifest.get("fingerprint") != expected_fingerprint:
        return False
    for relative, recorded in manifest.get("outputs", {}).items():
        path = folder / relative
        if not path.is_file() or path.stat().st_size != recorded.get("bytes"):
            return False
        if sha256_file(path) != recorded.get("sha256"):
            return False
    return True
