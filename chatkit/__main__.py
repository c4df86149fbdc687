"""``python -m chatkit`` is the ``chatkit`` command."""

import sys

from .cli import main

sys.exit(main())
