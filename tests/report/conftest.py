"""The report folder the page tests share (built once: see ``tests/report_pages.py``)."""

from __future__ import annotations

import pytest

from report_pages import ReportInputs, build_report_inputs


@pytest.fixture(scope="session")
def report_inputs(tmp_path_factory) -> ReportInputs:
    """A fit folder and a report folder as notebooks 02 and 04 write them."""
    return build_report_inputs(tmp_path_factory.mktemp("page"))
