"""``python -m returnmodels``: the same as the ``returnmodels`` command."""

import sys

from returnmodels.cli import main

sys.exit(main())
