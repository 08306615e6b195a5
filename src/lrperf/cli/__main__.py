"""``python -m lrperf.cli``: the ``lrperf`` command."""
import sys

from . import main

sys.exit(main())
