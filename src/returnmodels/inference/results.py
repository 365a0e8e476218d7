"""Fit results: ArviZ DataTrees stamped with provenance, saved and loaded as NetCDF.

A result's root attributes (all plain strings, so NetCDF keeps them):

``returnmodels_model``          the registry name
``returnmodels_config``         the merged configuration (columns, priors, sampler) as JSON
``returnmodels_config_hash``    SHA-256 of that JSON (canonical, key-sorted)
``returnmodels_data_sha256``    SHA-256 of the validated frame the model saw (a file and the
                                frame read from it get the same checksum)
``returnmodels_version``        the package version
``returnmodels_verdict``        the convergence verdict as JSON
                                (:mod:`returnmodels.inference.diagnostics`)

:func:`load_result` refuses a file that is not a returnmodels result, whose stored
configuration does not hash to its stamp, or whose model (or configuration hash) is not
the one asked for.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path

import arviz as az
import xarray as xr
from xarray.backends import NetCDF4DataStore

from returnmodels import __version__
from returnmodels.engine.log_likelihood import KEPT_MAX_BYTES, rebuildable
from returnmodels.errors import ConfigError
from returnmodels.files import atomic_write
from returnmodels.inference.loo import loo_group

__all__ = [
    "LOG_LIKELIHOOD_MAX_BYTES",
    "config_hash",
    "load_result",
    "result_config",
    "save_result",
    "stamp",
    "write_netcdf",
]

PREFIX = "returnmodels_"


def config_hash(config: dict) -> str:
    """SHA-256 of the canonical JSON of ``config``."""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def stamp(result: xr.DataTree, model: str, config: dict, data_sha256: str) -> xr.DataTree:
    """Write the identity attributes onto ``result`` (in place) and return it."""
    result.attrs.update(
        {
            f"{PREFIX}model": model,
            f"{PREFIX}config": json.dumps(config, sort_keys=True, default=str),
            f"{PREFIX}config_hash": config_hash(config),
            f"{PREFIX}data_sha256": data_sha256,
            f"{PREFIX}version": __version__,
        }
    )
    return result


def result_config(result: xr.DataTree) -> dict:
    """The merged configuration a result was fitted with."""
    return json.loads(_attr(result, "config"))


def _attr(result: xr.DataTree, key: str) -> str:
    try:
        return result.attrs[PREFIX + key]
    except KeyError:
        raise ConfigError(f"not a returnmodels result: attribute {PREFIX + key} missing") from None


#: The pointwise log-likelihood is saved when it takes at most this many bytes: the size
#: up to which a fit keeps it at all (:data:`returnmodels.engine.log_likelihood.KEPT_MAX_BYTES`).
LOG_LIKELIHOOD_MAX_BYTES = KEPT_MAX_BYTES


def save_result(
    result: xr.DataTree, path: str | os.PathLike, *, log_likelihood: bool | None = None
) -> Path:
    """Write ``result`` as NetCDF, atomically.

    The pointwise log-likelihood (draws x cells) follows ArviZ's convention and is kept
    as the ``log_likelihood`` group, so that ``az.loo`` and ``az.compare`` work on the
    saved file, when it takes at most :data:`LOG_LIKELIHOOD_MAX_BYTES`; above that it is
    left out (``log_likelihood=True`` or ``False`` decides instead). A formula fit
    rebuilds it from its posterior and cells when LOO asks for it
    (:func:`returnmodels.inference.loo.with_log_likelihood`); a registered fit with one
    observed variable gets a ``loo`` group in its place: the pointwise PSIS-LOO results
    (a few hundred kB), what model comparison reads when the log-likelihood is gone.
    """
    _attr(result, "model")
    path = Path(path)
    saved = result.copy()
    present = "log_likelihood" in result.children
    single = present and len(result["log_likelihood"].data_vars) == 1
    if log_likelihood is None:
        size = result["log_likelihood"].to_dataset().nbytes if present else 0
        log_likelihood = size <= LOG_LIKELIHOOD_MAX_BYTES
    if single and not log_likelihood and "loo" not in result.children and not rebuildable(result):
        try:
            saved["loo"] = xr.DataTree(loo_group(result))
        except ValueError:  # PSIS cannot smooth (a cell whose log-likelihood is constant)
            pass  # no loo group: model comparison says why
    if not log_likelihood and present:
        del saved["log_likelihood"]
    with atomic_write(path) as temporary:
        write_netcdf(saved, temporary)
    return path


#: netCDF4-python is not thread-safe: every write of :func:`write_netcdf` holds this lock.
NETCDF_WRITE_LOCK = threading.Lock()


def write_netcdf(tree: xr.DataTree, path: str | os.PathLike) -> None:
    """Write ``tree`` to the new NetCDF-4 file ``path``, one HDF5 group a node, as
    ``DataTree.to_netcdf(path, engine="netcdf4")`` writes it (h5netcdf and netCDF4 both
    read it; netCDF4 writes the 40-60 variables of a fit 4x faster than h5netcdf).

    Through xarray's store API (``NetCDF4DataStore``, ``Dataset.dump_to_store``) with
    a lock of its own, because ``to_netcdf`` asks dask which scheduler is active
    before every write, and that question imports ``dask.distributed`` (0.2 s, a fifth
    of a small fit's writing) to find the answer, never a distributed one here: a
    result's variables are NumPy arrays, written as they are stored."""
    root = NetCDF4DataStore.open(os.fspath(path), mode="w", lock=NETCDF_WRITE_LOCK)
    try:
        for node in tree.subtree:
            store = root if node is tree else root.get_child_store(node.path)
            node.to_dataset(inherit=node is tree).dump_to_store(store)
    finally:
        root.close()


def load_result(
    path: str | os.PathLike, model: str | None = None, config_hash_: str | None = None
) -> xr.DataTree:
    """Read a result; refuse it unless its identity checks out (see the module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"result file {str(path)!r} does not exist")
    result = az.from_netcdf(path, engine="h5netcdf").load()
    stored = _attr(result, "config_hash")
    if config_hash(result_config(result)) != stored:
        raise ConfigError(f"{path}: the stored configuration does not match its hash")
    found = _attr(result, "model")
    if model is not None and found != model:
        raise ConfigError(f"{path} holds a {found!r} fit, not {model!r}")
    if config_hash_ is not None and stored != config_hash_:
        raise ConfigError(f"{path}: configuration hash {stored[:12]} is not {config_hash_[:12]}")
    return result
