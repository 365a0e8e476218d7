"""The cache key of a compiled kernel's code: :func:`source_salt`.

PyTensor's numba cache keys an Op by its class and props, not by the code its
``funcify`` returns, so a kernel written in Python (:mod:`returnmodels.engine.unit_kernel`,
:mod:`returnmodels.engine.cell_kernel`) returns a salt with that code: a number that
changes with its module's text, so that a changed kernel is compiled again rather than
loaded from a stale cache.
"""

from __future__ import annotations

import hashlib
import inspect
import sys

__all__ = ["source_salt"]


def source_salt(module_name: str) -> int:
    """A number that changes with the text of the module ``module_name``."""
    text = inspect.getsource(sys.modules[module_name])
    return int(hashlib.sha256(text.encode()).hexdigest()[:12], 16)
