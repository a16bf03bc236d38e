import sys

from devservices.services import main

sys.exit(main())
