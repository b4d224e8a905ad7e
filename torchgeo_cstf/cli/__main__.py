"""``python -m torchgeo_cstf.cli``."""

import sys

from . import main

sys.exit(main())
