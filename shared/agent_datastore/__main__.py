"""`python -m agent_datastore ...` is the `agent-datastore` console script."""

import sys

from agent_datastore.cli import main

sys.exit(main())
