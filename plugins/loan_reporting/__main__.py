import sys

from loan_reporting.cli import main

sys.exit(main())
