"""``python -m services.selection COMMAND``; see ``--help``."""

from services.selection.cli import main

raise SystemExit(main())
