"""The intake profile's breakdown: py-spy's collapsed stacks counted by the leaf's package."""

from __future__ import annotations

from loadtests.intake_profile import group_of, self_time

_RUN = 'process 1:"python";run (/usr/lib/python3.11/asyncio/runners.py:118)'
_SITE = "/work/.venv/lib/python3.11/site-packages"
RAW = "\n".join(
    [
        f"{_RUN};handle ({_SITE}/fastapi/routing.py:301) 7",
        f"{_RUN};send ({_SITE}/aiokafka/producer/producer.py:410) 2",
        f"{_RUN} 1",
        "garbage line",
    ]
)


def test_each_stack_counts_for_its_leaf_frame_package() -> None:
    shares = self_time(RAW)
    assert shares == {"FastAPI": 7, "aiokafka": 2, "asyncio + uvloop": 1}


def test_our_own_code_is_told_apart_from_the_library() -> None:
    assert group_of("seal_json (/work/main/libs/gelombang/pii.py:40)") == "gelombang library"
    assert group_of("register (/work/main/services/registration/service.py:210)") == (
        "registration service"
    )
    assert group_of("<genexpr> (/usr/lib/python3.11/typing.py:10)").startswith("other")
