"""The data layer: the case-file contract, reading, validation, cells and case summaries.

First step of the pipeline (data -> models -> inference -> summaries -> report ->
batch/cli): imports nothing of returnmodels but :mod:`returnmodels.errors` and
:mod:`returnmodels.files`.
"""
