"""``python -m deepdive ...`` is the ``deepdive`` command."""
import sys

from .cli import main

sys.exit(main())
