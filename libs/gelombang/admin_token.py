"""Print the admin bearer token of this deployment: ``python -m gelombang.admin_token``.

In dev the token is derived from the NIK HMAC key (see ``AdminSettings``), so developers and
tests read it here instead of configuring one.
"""

from __future__ import annotations

from gelombang.settings import AdminSettings

if __name__ == "__main__":
    print(AdminSettings().effective_admin_token)
