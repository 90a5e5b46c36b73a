"""`python -m hashhop`: the same as the `hashhop` command."""

import sys

from .cli import main

sys.exit(main())
