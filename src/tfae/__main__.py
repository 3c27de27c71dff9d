import sys

from tfae.cli import main

sys.exit(main())
