"""Inference: fitting a model (samplers, the compile cache), the convergence gate,
pointwise log-likelihood and LOO, saved results, and model checks (prior predictive, SBC).

Imports the data layer and :mod:`returnmodels.models`; never summaries, report or batch.
"""
