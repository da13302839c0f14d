"""What is left after a change of contact (issue 20), with fakes: the time to confirm a
contact changed late, as verification keeps it and the status answer shows it, and the resends
the status page may still offer."""

from __future__ import annotations

from datetime import timedelta

from gelombang.contact import LINK_TTL
from gelombang.events import ContactChangeRequested
from services.registration.api import contact_progress
from services.registration.service import SendLimit, resends_left
from services.verification.service import ChangeableCase, judge_contact_changes
from tests.unit.test_contact_change import (
    AT,
    CIPHER,
    Api,
    FakeCases,
    FakeCounter,
    change_of,
    waiting_case,
)

HOUR = timedelta(hours=1)


def signed_up_at_noon() -> tuple[FakeCases, ChangeableCase]:
    """A case opened at AT, its contact due within the usual 48 hours."""
    case = waiting_case(expires_at=AT + LINK_TTL)
    return FakeCases({case.registration_id: case}), case


def asked_at(case: ChangeableCase, hours: float, phone: str) -> ContactChangeRequested:
    request = change_of(case, phone=phone)
    return request.model_copy(update={"occurred_at": AT + hours * HOUR})


def shown_deadline(store: FakeCases, case: ChangeableCase) -> object:
    """The deadline the status page shows, from the steps verification told the read model."""
    changed_at = [step.occurred_at for step in store.steps]
    history = [("submitted", None), ("contact_pending", None)]
    history += [("contact_changed", None) for _ in changed_at]
    progress = contact_progress(history, "web", None, "+6282222222222", AT, changed_at=changed_at)
    assert progress is not None
    return progress.confirm_by


async def test_a_typo_fixed_at_hour_47_leaves_a_day_to_confirm_and_the_page_says_so() -> None:
    store, case = signed_up_at_noon()
    request = asked_at(case, 47, "+6282222222222")
    judged = await judge_contact_changes([request], store, CIPHER, 3, now=AT + 47 * HOUR)
    assert judged == [(request, "changed")]
    assert store.cases[case.registration_id].contact_expires_at == AT + 71 * HOUR
    assert shown_deadline(store, case) == AT + 71 * HOUR


async def test_an_early_change_keeps_the_original_deadline() -> None:
    store, case = signed_up_at_noon()
    request = asked_at(case, 2, "+6282222222222")
    await judge_contact_changes([request], store, CIPHER, 3, now=AT + 2 * HOUR)
    assert store.cases[case.registration_id].contact_expires_at == AT + LINK_TTL
    assert shown_deadline(store, case) == AT + LINK_TTL


async def test_the_deadline_moves_at_most_once_per_allowed_change() -> None:
    store, case = signed_up_at_noon()
    deadlines = []
    for n, hours in enumerate((47, 70, 93, 116)):
        request = asked_at(case, hours, f"+628222222222{n}")
        await judge_contact_changes([request], store, CIPHER, 3, now=AT + hours * HOUR)
        deadlines.append(store.cases[case.registration_id].contact_expires_at)
    # The fourth change is past the limit: refused, and the deadline stays where it was, at
    # most three days past the one given at sign-up.
    assert deadlines == [AT + 71 * HOUR, AT + 94 * HOUR, AT + 117 * HOUR, AT + 117 * HOUR]
    assert shown_deadline(store, case) == AT + 117 * HOUR


async def test_a_replayed_change_does_not_extend_the_deadline_again() -> None:
    store, case = signed_up_at_noon()
    request = asked_at(case, 47, "+6282222222222")
    await judge_contact_changes([request], store, CIPHER, 3, now=AT + 47 * HOUR)
    assert await judge_contact_changes([request], store, CIPHER, 3, now=AT + 70 * HOUR) == []
    assert store.cases[case.registration_id].contact_expires_at == AT + 71 * HOUR


async def test_a_change_asked_after_the_deadline_does_not_revive_the_case() -> None:
    store, case = signed_up_at_noon()
    request = asked_at(case, 49, "+6282222222222")
    judged = await judge_contact_changes([request], store, CIPHER, 3, now=AT + 49 * HOUR)
    assert judged == [(request, "not_waiting")]
    assert store.cases[case.registration_id] == case


async def test_a_change_asked_in_time_counts_its_day_from_when_the_worker_applies_it() -> None:
    # The worker lagged: the new message goes out only now, so the day runs from now.
    store, case = signed_up_at_noon()
    request = asked_at(case, 47.5, "+6282222222222")
    await judge_contact_changes([request], store, CIPHER, 3, now=AT + 49 * HOUR)
    assert store.cases[case.registration_id].contact_expires_at == AT + 73 * HOUR
    assert shown_deadline(store, case) == AT + 73 * HOUR


def test_a_confirmed_contact_has_no_deadline_whatever_its_changes() -> None:
    history = [("contact_changed", None), ("contact_pending", None), ("contact_confirmed", None)]
    progress = contact_progress(history, "web", None, "+62812", AT, changed_at=[AT + 47 * HOUR])
    assert progress is not None and progress.confirm_by is None


# -- resends left, as the status answer tells them ------------------------------------------


async def test_the_resends_left_count_down_stop_at_none_and_start_again_after_a_change() -> None:
    api = Api()
    limit = SendLimit(api.counter, 4, 48 * 3600)
    assert await resends_left(api.registration_id, limit) == 4
    left = []
    for _ in range(5):
        await api.resend()
        api.cooldowns_over()
        left.append(await resends_left(api.registration_id, limit))
    # The fifth was refused: it counts, but none left is still none.
    assert left == [3, 2, 1, 0, 0]
    assert await api.change(phone="081234567890") == "queued"
    assert await resends_left(api.registration_id, limit) == 4


async def test_a_resend_refused_as_too_soon_uses_none_up() -> None:
    api = Api()
    limit = SendLimit(api.counter, 4, 48 * 3600)
    assert await api.resend() == "queued"
    assert await api.resend() == "too_soon"
    assert await resends_left(api.registration_id, limit) == 3


async def test_redis_down_leaves_the_resends_left_untold() -> None:
    limit = SendLimit(FakeCounter(down=True), 4, 48 * 3600)
    assert await resends_left(Api().registration_id, limit) is None
