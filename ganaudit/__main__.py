import sys

from ganaudit.cli import main

sys.exit(main())
