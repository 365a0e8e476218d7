"""The one controlled writer of a results folder: :class:`RunFolder`.

Every file that ``returnmodels fit``, a notebook or a batch run writes into a results
folder goes through a :class:`RunFolder`, which writes it atomically after the check of
its kind (the same checks ``returnmodels audit`` runs, so what the writer lets through
the audit passes):

============  ===================================================================
``table``     a disclosure-controlled frame as CSV with its marker
              (:func:`~returnmodels.disclosure.write_controlled_csv`)
``figure``    a PNG carrying the mark of what it was drawn from: the controlled
              tables it shows, or a declared basis (:mod:`returnmodels.disclosure.figure`)
``json``      a JSON document, refused if it holds identifiers, small counts or case rows
``text``      a log or note, refused likewise
``html``      a page (the report), refused for what the audit refuses in HTML:
              small or unrounded counts in its tables, identifiers, unmarked figures
``posterior`` a fit's DataTree with its data groups: an **internal** file, kept for
              refits and checks, never released as it is (``returnmodels release``
              writes its released form)
============  ===================================================================

A refused output raises :class:`~returnmodels.disclosure.DisclosureError` naming every
finding, and nothing is written under its name. Figures come back as :class:`Figure`
objects, which Jupyter shows inline with exactly the bytes of the file (mark included).
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import xarray as xr

from returnmodels.disclosure import (
    CASE_ID_PATTERN,
    DEFAULT_RULES,
    DisclosureError,
    DisclosureRules,
    marker_path,
    write_controlled_csv,
)
from returnmodels.disclosure.audit import AuditReport, audit_results, html_findings
from returnmodels.disclosure.checks import findings_listing
from returnmodels.disclosure.documents import content_findings, document_findings
from returnmodels.disclosure.figure import PNG_KEY, figure_marker, png_findings
from returnmodels.errors import ConfigError
from returnmodels.files import atomic_write, sha256_file
from returnmodels.inference.results import save_result

__all__ = ["Figure", "RunFolder", "matplotlib_figure", "png_bytes"]

#: Resolution of every saved figure.
DPI = 120

#: zlib's level for the PNGs: 1 encodes in two thirds of the default's (6) time for
#: files about 12 % larger.
PNG_COMPRESSION = 1


@dataclass(frozen=True)
class Figure:
    """A written PNG; Jupyter displays it inline (``_repr_png_``) with the file's bytes."""

    path: Path
    png: bytes

    def _repr_png_(self) -> bytes:
        return self.png

    def __repr__(self) -> str:
        return f"Figure({str(self.path)!r})"


class RunFolder:
    """A results folder (created if needed) written under ``rules``; see the module docstring."""

    def __init__(
        self,
        path: str | os.PathLike,
        rules: DisclosureRules = DEFAULT_RULES,
        *,
        id_pattern: str = CASE_ID_PATTERN,
    ) -> None:
        self.path = Path(path)
        if self.path.exists() and not self.path.is_dir():
            raise ConfigError(f"output folder {str(self.path)!r} is a file, not a folder")
        self.path.mkdir(parents=True, exist_ok=True)
        self.rules = rules
        self.id_pattern = id_pattern

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    def table(self, frame: pd.DataFrame, name: str) -> pd.DataFrame:
        """Write a controlled frame as ``name`` (a ``.csv``) with its marker; return it."""
        write_controlled_csv(frame, self.path / name, id_pattern=self.id_pattern)
        return frame

    def figure(
        self,
        figure,
        name: str,
        *,
        sources: Sequence[str] = (),
        basis: str | None = None,
        tight: bool = True,
    ) -> Figure:
        """Save ``figure`` (matplotlib Axes or Figure, or an ArviZ plot collection) as the
        PNG ``name``, marked as drawn from the controlled tables ``sources`` (files of
        this folder) or from ``basis`` (one of
        :data:`~returnmodels.disclosure.figure.FIGURE_BASES`); close it; return it.
        ``tight=False`` keeps the figure's own layout (no second draw to find the tight
        bounding box): for figures laid out on a fixed grid."""
        marker = self.mark(sources=sources, basis=basis)
        return self.png(png_bytes(figure, marker, tight=tight), name)

    def mark(self, *, sources: Sequence[str] = (), basis: str | None = None) -> dict:
        """The mark a figure of this folder carries (:meth:`figure`'s ``sources`` and
        ``basis``), for drawing it elsewhere with :func:`png_bytes`."""
        checksums = {source: self._source_checksum(source) for source in sources}
        return figure_marker(self.rules, basis or "tables", checksums)

    def png(self, png: bytes, name: str) -> Figure:
        """Write the PNG ``png`` drawn elsewhere (:func:`png_bytes` with this folder's
        :meth:`mark`) as ``name``, after the audit's check of its mark: refused without
        one, with weaker rules, or with source tables that are not this folder's."""
        findings = png_findings(png, self.rules, source=name, folder=self.path)
        if findings:
            raise DisclosureError(findings_listing(f"refusing to write {name!r}", findings))
        path = self.path / name
        with atomic_write(path) as temporary:
            temporary.write_bytes(png)
        return Figure(path, png)

    def _source_checksum(self, name: str) -> str:
        table = self.path / name
        if not table.is_file() or not marker_path(table).is_file():
            raise DisclosureError(
                f"figure source {name!r} is not a controlled table of {str(self.path)!r}: "
                "write it with RunFolder.table first"
            )
        return sha256_file(table)

    def json(self, document: dict, name: str) -> Path:
        """Write ``document`` as indented, key-sorted JSON, refused if it discloses."""
        text = json.dumps(document, indent=2, sort_keys=True, default=str) + "\n"
        found = document_findings(
            json.loads(text), self.rules, source=name, id_pattern=self.id_pattern
        )
        return self._write_text(text, name, found)

    def text(self, text: str, name: str) -> Path:
        """Write a log or note (``.log``, ``.txt``, ``.md``), refused if it discloses."""
        found = content_findings(text, self.rules, source=name, id_pattern=self.id_pattern)
        return self._write_text(text, name, found)

    def html(self, page: str, name: str) -> Path:
        """Write an HTML page (``.html``), refused if the audit would refuse it."""
        found = html_findings(page, self.rules, source=name, id_pattern=self.id_pattern)
        return self._write_text(page, name, found)

    def _write_text(self, text: str, name: str, findings) -> Path:
        if findings:
            raise DisclosureError(findings_listing(f"refusing to write {name!r}", findings))
        path = self.path / name
        with atomic_write(path) as temporary:
            temporary.write_text(text, encoding="utf-8")
        return path

    def posterior(self, result: xr.DataTree, name: str = "posterior.nc") -> Path:
        """Write the fit with its data groups (internal: see the module docstring)."""
        return save_result(result, self.path / name)

    def check(self) -> AuditReport:
        """The audit of everything in the folder now (what ``returnmodels audit`` says)."""
        return audit_results(self.path, self.rules, id_pattern=self.id_pattern)


def png_bytes(figure, marker: dict, *, tight: bool = True) -> bytes:
    """``figure`` (as :meth:`RunFolder.figure` takes it) as PNG bytes at :data:`DPI`,
    carrying ``marker`` (:meth:`RunFolder.mark`); the figure is closed."""
    canvas = matplotlib_figure(figure)
    buffer = io.BytesIO()
    canvas.savefig(
        buffer,
        format="png",
        dpi=DPI,
        bbox_inches="tight" if tight else None,
        metadata={"Software": None, PNG_KEY: json.dumps(marker, sort_keys=True)},
        pil_kwargs={"compress_level": PNG_COMPRESSION},
    )
    plt.close(canvas)
    return buffer.getvalue()


def matplotlib_figure(figure):
    """The matplotlib figure behind Axes, a Figure or an ArviZ ``PlotCollection``."""
    if hasattr(figure, "get_viz"):
        figure = figure.get_viz("figure")
        figure = getattr(figure, "item", lambda: figure)()
    if hasattr(figure, "get_figure") and not hasattr(figure, "savefig"):
        figure = figure.get_figure()
    if not hasattr(figure, "savefig"):
        raise ConfigError(f"cannot save {type(figure).__name__} as a figure")
    return figure
