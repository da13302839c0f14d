"""``python -m services.assisted COMMAND``: the admin CLI; see ``--help``."""

from services.assisted.cli import main

raise SystemExit(main())
