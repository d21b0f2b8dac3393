"""``python -m cogment_jupyter.cli``: the ``cogment-jupyter`` command."""

import sys

from cogment_jupyter.cli import main

sys.exit(main())
