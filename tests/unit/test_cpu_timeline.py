"""The bench's cores-by-role timeline: which component counts as what, and the window means."""

from __future__ import annotations

from loadtests.processes import CpuTimeline, role_of


def test_components_are_grouped_by_what_they_do_in_a_spike() -> None:
    roles = {
        name: role_of(name)
        for name in (
            "registration-0",
            "registration-11",
            "assisted",
            "nginx",
            "kafka",
            "redis",
            "projector",
            "postgres",
            "verification-1",
            "civil-registry-sim",
            "mail-sink",
            "selection-worker",
            "redis-exporter",
            "nginx-exporter",
            "prometheus",
            "load-generator",
        )
    }
    assert roles == {
        "registration-0": "intake",
        "registration-11": "intake",
        "assisted": "intake",
        "nginx": "intake",
        "kafka": "intake",
        "redis": "intake",
        "projector": "decider",
        "postgres": "decider",
        "verification-1": "background",
        "civil-registry-sim": "background",
        "mail-sink": "background",
        "selection-worker": "background",
        "redis-exporter": "background",  # an exporter is not the thing it watches
        "nginx-exporter": "background",
        "prometheus": "background",
        "load-generator": "load generator",
    }


def test_window_means_take_the_samples_that_ended_inside_it() -> None:
    cpu = CpuTimeline(
        every_s=5,
        t=[5, 10, 15, 20],
        cores={"intake": [1.0, 1.4, 1.6, 0.2], "background": [0.5, 0.1, 0.1, 1.5]},
    )
    assert cpu.mean_cores(5, 15) == {"background": 0.1, "intake": 1.5}
    assert cpu.mean_cores(15, 20) == {"background": 1.5, "intake": 0.2}
    assert cpu.mean_cores(20, 30) == {}
