"""Which CPU group each local process joins: intake keeps the cores in a spike, the decider
comes before the rest of the background (deploy/local/processes.py)."""

from deploy.local.apps import app_table
from deploy.local.processes import BACKGROUND, DECIDER, cpu_group_for


def test_intake_runs_ungrouped_and_the_pipeline_yields_to_it() -> None:
    groups = {spec.name: cpu_group_for(spec.nice) for spec in app_table({})}
    assert groups["registration-0"] is None
    assert groups["assisted"] is None  # the officers' lane is intake too
    assert groups["projector"] == DECIDER
    assert groups["verification-0"] == BACKGROUND
    assert groups["sms-gateway-sim"] == BACKGROUND


def test_the_decider_gets_more_than_the_rest_of_the_background_and_less_than_intake() -> None:
    # Shares count against each ungrouped process's 1,024.
    assert BACKGROUND.shares < DECIDER.shares < 1024
