"""The fit writer's figures do not load JAX, which arviz_base registers as a lazy
placeholder and matplotlib would load whole (0.7 s) on the first axes of a process."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_figures_leave_the_lazy_jax_placeholder_unloaded_and_in_place():
    script = textwrap.dedent(
        """
        import sys
        import arviz  # registers the lazy placeholder
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from returnmodels.report import style

        placeholder = sys.modules.get("jax")
        assert type(placeholder).__name__ == "_LazyModule", type(placeholder)
        with style.without_unloaded_jax():
            figure, ax = plt.subplots()
            ax.plot([0.0, 1.0], [1.0, 0.0])
            figure.canvas.draw()
        assert sys.modules["jax"] is placeholder  # put back for ArviZ's converter
        assert "jax._src" not in sys.modules, "JAX was loaded"
        figure, ax = plt.subplots()  # outside, matplotlib loads it as before
        assert "jax._src" in sys.modules
        print("ok")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
