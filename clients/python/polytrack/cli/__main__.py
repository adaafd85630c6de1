import sys

from polytrack.cli import main

sys.exit(main())
