"""What leaves a run: the run folder (the one controlled writer), the fit's outputs,
controlled per-group tables, descriptive tables, every figure, notebook helpers and the
DT&V departures.

Imports every earlier step (data, models, inference, summaries, disclosure); batch and
cli import it, never the reverse.
"""
