from __future__ import annotations

from gelombang.settings import AdminSettings, OutboxRelaySettings


class SelectionSettings(AdminSettings, OutboxRelaySettings):
    service_name: str = "selection"
    group_id: str = "selection-pool"
    db_pool_max: int = 5
    # The 2020 program's weekly wave; wave 1 was raised to 200,000 by decision, per wave here.
    default_total_quota: int = 164_000
    # Selected people who have not started a training after this many days lose their seat.
    confirm_within_days: int = 30
    # How often the worker looks for selected people past that deadline.
    revocation_sweep_s: float = 60.0
