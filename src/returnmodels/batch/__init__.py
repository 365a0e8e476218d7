"""Batches of parameterised notebook runs: validate, execute, record, index.

``returnmodels run BATCH.yaml`` reads a batch (:mod:`.spec`), plans one task per run with
its inputs fingerprint (:mod:`.manifest`), executes each in its own process and staging
folder (:mod:`.execute`, :mod:`.worker`) on local processes or a Dask cluster
(:mod:`.executors`), in ``after`` order (:mod:`.runner`), while :mod:`.progress` prints
the state of every run and :mod:`.index` writes ``OUT/index.html``.
"""

from __future__ import annotations

from returnmodels.batch.executors import DaskExecutor, LocalExecutor, make_executor
from returnmodels.batch.progress import Progress
from returnmodels.batch.runner import run_batch
from returnmodels.batch.spec import Batch, RunSpec, load_batch

__all__ = [
    "Batch",
    "DaskExecutor",
    "LocalExecutor",
    "Progress",
    "RunSpec",
    "load_batch",
    "make_executor",
    "run_batch",
]
