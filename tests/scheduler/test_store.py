"""The store's rules, on SQLite and on Postgres: scoping, paging, status, numbering, claiming."""

from __future__ import annotations

import hashlib
import re
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import Engine

from azuraforge.v1 import events_pb2, experiment_pb2
from scheduler.db.models import ExperimentStatus, Role
from scheduler.records import Caller, ExperimentRecord, UserRecord
from scheduler.store import (
    ALLOWED_TRANSITIONS,
    AlreadyExists,
    IllegalTransition,
    InvalidPageToken,
    NotFound,
    SchedulerConflict,
    Store,
)
from tests.scheduler.fakes import FakeClock

PENDING = ExperimentStatus.PENDING
RUNNING = ExperimentStatus.RUNNING
SUCCEEDED = ExperimentStatus.SUCCEEDED
FAILED = ExperimentStatus.FAILED
CANCELLED = ExperimentStatus.CANCELLED
STOPPED_EARLY = ExperimentStatus.STOPPED_EARLY


@pytest.fixture
def alice(store: Store) -> UserRecord:
    return store.create_user("alice", "hash-a")


@pytest.fixture
def bob(store: Store) -> UserRecord:
    return store.create_user("bob", "hash-b")


@pytest.fixture
def admin(store: Store) -> UserRecord:
    return store.create_user("root", "hash-r", Role.ADMIN)


def caller(user: UserRecord) -> Caller:
    return Caller(user.id, user.role)


def epoch_ended(epoch: int, loss: float) -> events_pb2.ExperimentEvent:
    return events_pb2.ExperimentEvent(
        epoch_ended=events_pb2.EpochEnded(epoch=epoch, total_epochs=10, metrics={"loss": loss})
    )


def log_line(message: str) -> events_pb2.ExperimentEvent:
    return events_pb2.ExperimentEvent(log_line=events_pb2.LogLine(message=message))


# Users


def test_users_are_created_and_found_by_id_and_name(store: Store, alice: UserRecord):
    assert alice.username == "alice"
    assert alice.role is Role.USER
    assert store.get_user(alice.id) == alice
    assert store.get_user_by_name("alice") == alice
    credentials = store.find_credentials("alice")
    assert credentials is not None
    assert (credentials.user, credentials.password_hash) == (alice, "hash-a")
    assert store.find_credentials("nobody") is None


def test_a_username_is_taken_once(store: Store, alice: UserRecord):
    with pytest.raises(AlreadyExists, match="'alice' exists already"):
        store.create_user("alice", "other")


def test_unknown_users_are_not_found(store: Store):
    with pytest.raises(NotFound):
        store.get_user("no-such-id")
    with pytest.raises(NotFound):
        store.get_user_by_name("nobody")
    with pytest.raises(NotFound):
        store.set_password_hash("no-such-id", "hash")


def test_users_are_counted_by_role(store: Store, alice: UserRecord, bob: UserRecord):
    assert store.count_users() == 2
    assert store.count_users(Role.ADMIN) == 0
    store.create_user("root", "hash", Role.ADMIN)
    assert (store.count_users(), store.count_users(Role.ADMIN)) == (3, 1)


def test_a_password_hash_can_be_replaced(store: Store, alice: UserRecord):
    store.set_password_hash(alice.id, "new-hash")

    credentials = store.find_credentials("alice")
    assert credentials is not None and credentials.password_hash == "new-hash"


# Experiments: creating and scoping


def test_a_new_experiment_is_pending_and_owned(store: Store, alice: UserRecord, clock: FakeClock):
    experiment = store.create_experiment(alice.id, "digits", {"epochs": 3}, total_epochs=3)

    assert experiment.status is PENDING
    assert (experiment.owner_id, experiment.owner) == (alice.id, "alice")
    assert (experiment.pipeline, experiment.config) == ("digits", {"epochs": 3})
    assert experiment.created_at == experiment.updated_at == clock()
    assert experiment.created_at.tzinfo is not None
    assert (experiment.started_at, experiment.finished_at, experiment.trainer_id) == (
        None,
        None,
        None,
    )
    assert (experiment.epochs_done, experiment.total_epochs, experiment.last_seq) == (0, 3, 0)
    assert store.get_experiment(experiment.id, caller=caller(alice)) == experiment


def test_an_experiment_needs_an_existing_owner(store: Store):
    with pytest.raises(NotFound, match="user"):
        store.create_experiment("no-such-user", "digits", {})


def test_another_users_experiment_is_not_found_but_admins_see_it(
    store: Store, alice: UserRecord, bob: UserRecord, admin: UserRecord
):
    experiment = store.create_experiment(alice.id, "digits", {})

    with pytest.raises(NotFound) as theirs:
        store.get_experiment(experiment.id, caller=caller(bob))
    with pytest.raises(NotFound) as missing:
        store.get_experiment("no-such-id", caller=caller(bob))
    # Someone else's and nobody's read the same, so ids cannot be probed.
    assert str(theirs.value) == str(missing.value).replace("no-such-id", experiment.id)
    assert store.get_experiment(experiment.id, caller=caller(admin)).id == experiment.id
    assert store.get_experiment(experiment.id, caller=None).id == experiment.id


def test_an_experiment_keeps_its_name_and_is_renamed_by_whoever_may_see_it(
    store: Store, alice: UserRecord, bob: UserRecord, admin: UserRecord, clock: FakeClock
):
    named = store.create_experiment(alice.id, "digits", {}, name="baseline")
    unnamed = store.create_experiment(alice.id, "digits", {})
    clock.advance(5)

    renamed = store.rename_experiment(named.id, "two layers", caller=caller(alice))
    by_admin = store.rename_experiment(unnamed.id, "tidied", caller=caller(admin))
    with pytest.raises(NotFound):
        store.rename_experiment(named.id, "mine now", caller=caller(bob))

    assert (named.name, unnamed.name) == ("baseline", "")
    assert renamed.name == "two layers"
    assert renamed.updated_at == clock()
    assert by_admin.name == "tidied"
    assert store.get_experiment(named.id, caller=caller(alice)).name == "two layers"
    assert store.rename_experiment(named.id, "", caller=caller(alice)).name == ""


# Experiments: listing


def test_users_list_their_own_newest_first_and_admins_list_all(
    store: Store, alice: UserRecord, bob: UserRecord, admin: UserRecord, clock: FakeClock
):
    ids = []
    for owner in (alice, bob, alice):
        ids.append(store.create_experiment(owner.id, "digits", {}).id)
        clock.advance(1)

    mine = store.list_experiments(caller=caller(alice))
    everyone = store.list_experiments(caller=caller(admin))

    assert [e.id for e in mine.experiments] == [ids[2], ids[0]]
    assert (mine.total_size, mine.next_page_token) == (2, "")
    assert [e.id for e in everyone.experiments] == ids[::-1]
    assert everyone.total_size == 3
    assert store.list_experiments(caller=caller(bob)).total_size == 1


@pytest.mark.parametrize("same_time", [False, True], ids=["distinct", "same-created-at"])
def test_pages_cover_every_experiment_once(
    store: Store, alice: UserRecord, clock: FakeClock, same_time: bool
):
    created = []
    for _ in range(7):
        created.append(store.create_experiment(alice.id, "digits", {}).id)
        if not same_time:
            clock.advance(1)

    seen: list[str] = []
    token = ""
    pages = 0
    while True:
        page = store.list_experiments(caller=caller(alice), page_size=3, page_token=token)
        assert page.total_size == 7
        seen.extend(e.id for e in page.experiments)
        pages += 1
        token = page.next_page_token
        if not token:
            break

    assert pages == 3
    assert sorted(seen) == sorted(created)
    assert len(seen) == len(set(seen))
    if not same_time:
        assert seen == created[::-1]


def test_an_experiment_submitted_while_paging_does_not_shift_the_pages(
    store: Store, alice: UserRecord, clock: FakeClock
):
    created = []
    for _ in range(4):
        created.append(store.create_experiment(alice.id, "digits", {}).id)
        clock.advance(1)

    first = store.list_experiments(caller=caller(alice), page_size=2)
    store.create_experiment(alice.id, "digits", {})
    second = store.list_experiments(
        caller=caller(alice), page_size=2, page_token=first.next_page_token
    )

    assert [e.id for e in first.experiments + second.experiments] == created[::-1]


def test_listing_filters_by_status_and_pipeline(store: Store, alice: UserRecord, clock: FakeClock):
    digits = store.create_experiment(alice.id, "digits", {})
    clock.advance(1)
    stocks = store.create_experiment(alice.id, "stocks", {})
    clock.advance(1)
    cancelled = store.create_experiment(alice.id, "digits", {})
    store.transition(cancelled.id, CANCELLED, caller=None)
    me = caller(alice)

    def ids(**filters: object) -> list[str]:
        page = store.list_experiments(caller=me, **filters)  # type: ignore[arg-type]
        assert page.total_size == len(page.experiments)
        return [e.id for e in page.experiments]

    assert ids(statuses=[PENDING]) == [stocks.id, digits.id]
    assert ids(statuses=[CANCELLED, RUNNING]) == [cancelled.id]
    assert ids(pipeline="digits") == [cancelled.id, digits.id]
    assert ids(pipeline="digits", statuses=[PENDING]) == [digits.id]
    assert ids(pipeline="weather") == []


def test_page_size_zero_means_the_default(store: Store, alice: UserRecord):
    for _ in range(3):
        store.create_experiment(alice.id, "digits", {})

    page = store.list_experiments(caller=caller(alice), page_size=0)

    assert (len(page.experiments), page.next_page_token) == (3, "")


@pytest.mark.parametrize("token", ["garbage!", "WzEsMl0", "bm90IGpzb24"])
def test_a_page_token_not_handed_out_is_refused(store: Store, alice: UserRecord, token: str):
    with pytest.raises(InvalidPageToken, match="start again"):
        store.list_experiments(caller=caller(alice), page_token=token)


# Experiments: status


LEGAL = [(a, b) for a, targets in ALLOWED_TRANSITIONS.items() for b in targets]
ILLEGAL = [(a, b) for a in ExperimentStatus for b in ExperimentStatus if (a, b) not in LEGAL]


def test_the_allowed_transitions_are_the_documented_ones():
    assert sorted(LEGAL) == sorted(
        [
            (PENDING, RUNNING),
            (PENDING, CANCELLED),
            (RUNNING, SUCCEEDED),
            (RUNNING, FAILED),
            (RUNNING, CANCELLED),
            (RUNNING, STOPPED_EARLY),
        ]
    )


def move_to(store: Store, experiment_id: str, status: ExperimentStatus) -> None:
    """Take a new experiment to `status` by legal steps."""
    if status is PENDING:
        return
    if status is CANCELLED:
        store.transition(experiment_id, CANCELLED, caller=None)
        return
    store.transition(experiment_id, RUNNING, caller=None)
    if status is not RUNNING:
        store.transition(experiment_id, status, caller=None)


@pytest.mark.parametrize(("current", "target"), LEGAL)
def test_legal_transitions(
    store: Store,
    alice: UserRecord,
    clock: FakeClock,
    current: ExperimentStatus,
    target: ExperimentStatus,
):
    experiment = store.create_experiment(alice.id, "digits", {})
    move_to(store, experiment.id, current)
    clock.advance(5)

    change = store.transition(experiment.id, target, caller=caller(alice), error_message="why")

    assert (change.previous, change.experiment.status) == (current, target)
    assert change.experiment.updated_at == clock()
    if target is RUNNING:
        assert change.experiment.started_at == clock()
    assert (change.experiment.finished_at == clock()) is target.is_terminal
    assert change.experiment.error_message == "why"
    assert store.get_experiment(experiment.id, caller=None) == change.experiment


@pytest.mark.parametrize(("current", "target"), ILLEGAL)
def test_illegal_transitions_are_refused(
    store: Store, alice: UserRecord, current: ExperimentStatus, target: ExperimentStatus
):
    experiment = store.create_experiment(alice.id, "digits", {})
    move_to(store, experiment.id, current)
    before = store.get_experiment(experiment.id, caller=None)

    with pytest.raises(IllegalTransition, match=f"is {current} and cannot become {target}"):
        store.transition(experiment.id, target, caller=None)

    assert store.get_experiment(experiment.id, caller=None) == before


def test_a_user_cannot_change_someone_elses_experiment(
    store: Store, alice: UserRecord, bob: UserRecord, admin: UserRecord
):
    experiment = store.create_experiment(alice.id, "digits", {})

    with pytest.raises(NotFound):
        store.transition(experiment.id, CANCELLED, caller=caller(bob))
    assert store.get_experiment(experiment.id, caller=None).status is PENDING
    assert store.transition(experiment.id, CANCELLED, caller=caller(admin)).previous is PENDING


def test_requeue_puts_a_running_experiment_back(store: Store, alice: UserRecord):
    experiment = store.create_experiment(alice.id, "digits", {})
    store.transition(experiment.id, RUNNING, caller=None, trainer_id="t1")

    change = store.requeue(experiment.id)

    assert (change.previous, change.experiment.status) == (RUNNING, PENDING)
    assert change.experiment.trainer_id is None
    with pytest.raises(IllegalTransition):
        store.requeue(experiment.id)


# Claiming


def test_claims_take_the_oldest_pending_of_the_trainers_pipelines(
    store: Store, alice: UserRecord, clock: FakeClock
):
    store.register_trainer(address="t:1", slots=4, pipelines=["digits"], trainer_id="t1")
    oldest = store.create_experiment(alice.id, "digits", {})
    clock.advance(1)
    store.create_experiment(alice.id, "stocks", {})
    clock.advance(1)
    middle = store.create_experiment(alice.id, "digits", {})
    clock.advance(1)
    cancelled = store.create_experiment(alice.id, "digits", {})
    store.transition(cancelled.id, CANCELLED, caller=None)
    clock.advance(1)
    newest = store.create_experiment(alice.id, "digits", {})

    first = store.claim_pending("t1", 2)
    second = store.claim_pending("t1", 5)

    assert [c.experiment.id for c in first] == [oldest.id, middle.id]
    assert [c.experiment.id for c in second] == [newest.id]
    for change in first + second:
        assert change.previous is PENDING
        assert change.experiment.status is RUNNING
        assert change.experiment.trainer_id == "t1"
        assert change.experiment.started_at == clock()
    assert store.claim_pending("t1", 5) == []
    assert store.claim_pending("t1", 0) == []


def test_an_unregistered_trainer_claims_nothing(store: Store):
    with pytest.raises(NotFound, match="trainer"):
        store.claim_pending("ghost", 1)


def test_no_experiment_is_claimed_twice(store: Store, alice: UserRecord, clock: FakeClock):
    created = set()
    for _ in range(24):
        created.add(store.create_experiment(alice.id, "digits", {}).id)
        clock.advance(0.001)
    trainers = [f"t{n}" for n in range(6)]
    for trainer in trainers:
        store.register_trainer(address=trainer, slots=4, pipelines=["digits"], trainer_id=trainer)
    barrier = threading.Barrier(len(trainers))

    def claim_all(trainer: str) -> list[tuple[str, str]]:
        barrier.wait()
        claimed: list[tuple[str, str]] = []
        while changes := store.claim_pending(trainer, 2):
            claimed.extend((c.experiment.id, c.experiment.trainer_id or "") for c in changes)
        return claimed

    with ThreadPoolExecutor(len(trainers)) as pool:
        results = [pair for claimed in pool.map(claim_all, trainers) for pair in claimed]

    counts = Counter(experiment_id for experiment_id, _ in results)
    assert set(counts) == created
    assert set(counts.values()) == {1}
    for experiment_id, trainer in results:
        assert store.get_experiment(experiment_id, caller=None).trainer_id == trainer


# Events


def test_events_are_numbered_from_one_and_replayed(
    store: Store, alice: UserRecord, clock: FakeClock
):
    experiment = store.create_experiment(alice.id, "digits", {})
    sent = [log_line("a"), log_line("b"), log_line("c")]
    sent[1].experiment_id = "somebody-else"  # the store's id wins
    sent[2].emitted_at.FromSeconds(1_000)

    stored = [store.append_event(experiment.id, event) for event in sent]

    assert [event.seq for event in stored] == [1, 2, 3]
    assert {event.experiment_id for event in stored} == {experiment.id}
    assert stored[0].emitted_at.ToDatetime().timestamp() == clock().timestamp()
    assert stored[2].emitted_at.seconds == 1_000
    assert store.events_after(experiment.id, 0) == stored
    assert store.events_after(experiment.id, 1) == stored[1:]
    assert store.events_after(experiment.id, 1, limit=1) == stored[1:2]
    assert store.events_after(experiment.id, 3) == []
    assert store.get_experiment(experiment.id, caller=None).last_seq == 3


def test_events_follow_progress(store: Store, alice: UserRecord):
    experiment = store.create_experiment(alice.id, "digits", {})
    store.transition(experiment.id, RUNNING, caller=None, trainer_id="t1")
    started = events_pb2.ExperimentEvent(
        experiment_started=events_pb2.ExperimentStarted(total_epochs=10, initial_epoch=2)
    )
    finished = events_pb2.ExperimentEvent(
        experiment_finished=events_pb2.ExperimentFinished(
            status=experiment_pb2.EXPERIMENT_STATUS_SUCCEEDED,
            metrics={"test_accuracy": 0.9},
            error_message="",
            baselines={"majority_class": experiment_pb2.Scores(values={"test_accuracy": 0.1})},
            references={"linear AR": experiment_pb2.Scores(values={"test_accuracy": 0.5})},
        )
    )

    store.append_event(experiment.id, started)
    after_start = store.get_experiment(experiment.id, caller=None)
    store.append_event(experiment.id, epoch_ended(3, 0.5))
    after_epoch = store.get_experiment(experiment.id, caller=None)
    store.append_event(experiment.id, finished)
    after_finish = store.get_experiment(experiment.id, caller=None)

    assert (after_start.total_epochs, after_start.epochs_done) == (10, 2)
    assert after_start.trainer_id == "t1"
    assert (after_epoch.epochs_done, after_epoch.metrics) == (3, {"loss": 0.5})
    assert after_finish.metrics == {"test_accuracy": 0.9}
    assert after_finish.baselines == {"majority_class": {"test_accuracy": 0.1}}
    assert after_finish.references == {"linear AR": {"test_accuracy": 0.5}}
    # Events never change the status: that is transition()'s job.
    assert after_finish.status is RUNNING


def test_a_burst_of_events_is_stored_as_the_same_events_one_at_a_time_would_be(
    store: Store, alice: UserRecord, clock: FakeClock
):
    one_by_one = store.create_experiment(alice.id, "digits", {})
    in_a_burst = store.create_experiment(alice.id, "digits", {})
    store.transition(one_by_one.id, RUNNING, caller=None)  # no trainer named yet
    store.transition(in_a_burst.id, RUNNING, caller=None)
    started = events_pb2.ExperimentEvent(
        experiment_started=events_pb2.ExperimentStarted(
            total_epochs=10, initial_epoch=2, trainer_id="t1"
        )
    )
    no_total = epoch_ended(5, 0.2)
    no_total.epoch_ended.total_epochs = 0
    burst = [started, epoch_ended(3, 0.4), log_line("a"), epoch_ended(4, 0.3), no_total]
    positions = [None, 7, None, 9, None]
    clock.advance(5)

    singly = [
        store.append_event(one_by_one.id, event, position=position)
        for event, position in zip(burst, positions, strict=True)
    ]
    together = store.append_events(in_a_burst.id, list(zip(burst, positions, strict=True)))

    for event in singly + together:
        event.experiment_id = ""
    assert together == singly
    assert [event.seq for event in together] == [1, 2, 3, 4, 5]
    burst_row = store.get_experiment(in_a_burst.id, caller=None)
    single_row = store.get_experiment(one_by_one.id, caller=None)
    assert (burst_row.epochs_done, burst_row.total_epochs, burst_row.metrics) == (
        5,
        10,
        {"loss": 0.2},
    )
    assert (burst_row.trainer_id, burst_row.last_seq, burst_row.updated_at) == ("t1", 5, clock())
    assert burst_row.stream_position == single_row.stream_position == 9
    for field in ("epochs_done", "total_epochs", "metrics", "trainer_id", "last_seq"):
        assert getattr(burst_row, field) == getattr(single_row, field), field
    assert [event.seq for event in store.events_after(in_a_burst.id, 0)] == [1, 2, 3, 4, 5]


def test_a_burst_needs_kinds_and_an_experiment_and_an_empty_one_stores_nothing(
    store: Store, alice: UserRecord
):
    experiment = store.create_experiment(alice.id, "digits", {})

    with pytest.raises(ValueError, match="kind"):
        store.append_events(
            experiment.id, [(log_line("a"), None), (events_pb2.ExperimentEvent(), 2)]
        )
    with pytest.raises(NotFound):
        store.append_events("no-such-id", [(log_line("x"), None)])
    assert store.append_events(experiment.id, []) == []
    assert store.get_experiment(experiment.id, caller=None).last_seq == 0


def finished_event(
    status: experiment_pb2.ExperimentStatus, error: str = ""
) -> events_pb2.ExperimentEvent:
    return events_pb2.ExperimentEvent(
        experiment_finished=events_pb2.ExperimentFinished(
            status=status, error_message=error, metrics={"loss": 0.25}
        )
    )


def test_finish_ends_the_experiment_and_stores_its_last_event_together(
    store: Store, alice: UserRecord, clock: FakeClock
):
    experiment = store.create_experiment(alice.id, "digits", {})
    store.transition(experiment.id, RUNNING, caller=None, trainer_id="t1")
    store.append_event(experiment.id, log_line("training"))
    clock.advance(5)

    change, stored = store.finish(
        experiment.id,
        FAILED,
        finished_event(experiment_pb2.EXPERIMENT_STATUS_FAILED, "boom"),
        caller=None,
    )

    assert (change.previous, change.experiment.status) == (RUNNING, FAILED)
    assert change.experiment.finished_at == clock()
    assert (change.experiment.error_message, change.experiment.metrics) == ("boom", {"loss": 0.25})
    assert change.experiment.last_seq == stored.seq == 2
    assert store.events_after(experiment.id, 1) == [stored]


def test_finish_refuses_what_is_not_an_ending_and_an_unexpected_status(
    store: Store, alice: UserRecord, bob: UserRecord
):
    experiment = store.create_experiment(alice.id, "digits", {})
    cancelled = finished_event(experiment_pb2.EXPERIMENT_STATUS_CANCELLED)

    with pytest.raises(ValueError, match="terminal"):
        store.finish(experiment.id, RUNNING, cancelled, caller=None)
    with pytest.raises(ValueError, match="ExperimentFinished"):
        store.finish(experiment.id, CANCELLED, log_line("no"), caller=None)
    with pytest.raises(NotFound):
        store.finish(experiment.id, CANCELLED, cancelled, caller=caller(bob))
    store.transition(experiment.id, RUNNING, caller=None)
    # A cancel meant for a pending experiment must not end one that a trainer just claimed.
    with pytest.raises(IllegalTransition):
        store.finish(experiment.id, CANCELLED, cancelled, caller=None, expected=PENDING)
    assert store.get_experiment(experiment.id, caller=None).last_seq == 0
    store.finish(experiment.id, CANCELLED, cancelled, caller=caller(alice), expected=RUNNING)
    with pytest.raises(IllegalTransition):
        store.finish(experiment.id, FAILED, cancelled, caller=None)


def test_an_event_needs_a_kind_and_an_experiment(store: Store, alice: UserRecord):
    experiment = store.create_experiment(alice.id, "digits", {})

    with pytest.raises(ValueError, match="kind"):
        store.append_event(experiment.id, events_pb2.ExperimentEvent())
    with pytest.raises(NotFound):
        store.append_event("no-such-id", log_line("x"))


def test_concurrent_appends_get_every_number_once(store: Store, alice: UserRecord):
    experiment = store.create_experiment(alice.id, "digits", {})
    threads, per_thread = 6, 15
    barrier = threading.Barrier(threads)

    def append(thread: int) -> list[int]:
        barrier.wait()
        return [
            store.append_event(experiment.id, log_line(f"{thread}/{n}")).seq
            for n in range(per_thread)
        ]

    with ThreadPoolExecutor(threads) as pool:
        per_thread_seqs = list(pool.map(append, range(threads)))

    total = threads * per_thread
    assert sorted(seq for seqs in per_thread_seqs for seq in seqs) == list(range(1, total + 1))
    for seqs in per_thread_seqs:
        assert seqs == sorted(seqs)  # each appender sees its own events in order
    replayed = store.events_after(experiment.id, 0, limit=total + 10)
    assert [event.seq for event in replayed] == list(range(1, total + 1))
    messages = Counter(event.log_line.message for event in replayed)
    assert len(messages) == total and set(messages.values()) == {1}
    assert store.get_experiment(experiment.id, caller=None).last_seq == total


# Artifacts


def test_artifacts_round_trip(store: Store, alice: UserRecord, clock: FakeClock):
    experiment = store.create_experiment(alice.id, "digits", {})
    report = b"# Report\n" * 1000
    weights = bytes(range(256)) * 64

    stored = store.put_artifact(experiment.id, "report.md", report, "text/markdown")
    store.put_artifact(experiment.id, "model/weights.npz", weights)

    meta, content = store.get_artifact(experiment.id, "report.md")
    assert meta == stored
    assert content == report
    assert (meta.size, meta.sha256) == (len(report), hashlib.sha256(report).hexdigest())
    assert (meta.content_type, meta.stored_at) == ("text/markdown", clock())
    assert store.get_artifact(experiment.id, "model/weights.npz")[1] == weights
    listed = store.list_artifacts(experiment.id)
    assert [a.name for a in listed] == ["model/weights.npz", "report.md"]
    assert listed[0].content_type == "application/octet-stream"
    in_experiment = store.get_experiment(experiment.id, caller=None).artifacts
    assert list(in_experiment) == listed


def test_putting_an_artifact_again_replaces_it(store: Store, alice: UserRecord):
    experiment = store.create_experiment(alice.id, "digits", {})
    store.put_artifact(experiment.id, "report.md", b"old", "text/plain")

    store.put_artifact(experiment.id, "report.md", b"newer", "text/markdown")

    meta, content = store.get_artifact(experiment.id, "report.md")
    assert (content, meta.size, meta.content_type) == (b"newer", 5, "text/markdown")
    assert len(store.list_artifacts(experiment.id)) == 1


@pytest.mark.parametrize("name", ["", "/etc/passwd", "../up", "a//b", "a/./b", "a\\b", "x" * 513])
def test_artifact_names_are_relative_paths(store: Store, alice: UserRecord, name: str):
    experiment = store.create_experiment(alice.id, "digits", {})

    with pytest.raises(ValueError, match="relative path"):
        store.put_artifact(experiment.id, name, b"")


def test_missing_artifacts_are_not_found(store: Store, alice: UserRecord):
    experiment = store.create_experiment(alice.id, "digits", {})

    with pytest.raises(NotFound):
        store.get_artifact(experiment.id, "report.md")
    with pytest.raises(NotFound):
        store.put_artifact("no-such-id", "report.md", b"")


# Trainers


def test_trainers_register_and_register_again(store: Store, clock: FakeClock):
    fresh = store.register_trainer(address="a:1", slots=2, pipelines=["stocks", "digits"])
    clock.advance(10)

    again = store.register_trainer(
        address="a:2", slots=3, pipelines=["digits"], trainer_id=fresh.id
    )

    assert fresh.pipelines == ("digits", "stocks")
    assert len(fresh.id) == 36
    assert (again.id, again.address, again.slots, again.pipelines) == (
        fresh.id,
        "a:2",
        3,
        ("digits",),
    )
    assert again.registered_at == again.last_heartbeat == clock()
    assert [t.id for t in store.list_trainers()] == [fresh.id]


def test_a_trainer_needs_a_slot_and_a_short_id(store: Store):
    with pytest.raises(ValueError, match="at least one slot"):
        store.register_trainer(address="a:1", slots=0, pipelines=[])
    with pytest.raises(ValueError, match="at most 200"):
        store.register_trainer(address="a:1", slots=1, pipelines=[], trainer_id="x" * 201)


def test_heartbeats_keep_trainers_alive(store: Store, clock: FakeClock):
    store.register_trainer(address="a:1", slots=1, pipelines=[], trainer_id="early")
    clock.advance(10)
    store.register_trainer(address="a:2", slots=1, pipelines=[], trainer_id="late")
    clock.advance(10)

    assert [t.id for t in store.list_trainers(alive_within=timedelta(seconds=15))] == ["late"]
    assert store.heartbeat("early").registered is True
    assert [t.id for t in store.list_trainers(alive_within=timedelta(seconds=5))] == ["early"]
    assert [t.id for t in store.list_trainers()] == ["early", "late"]
    assert store.heartbeat("ghost").registered is False


def test_free_slots_count_running_experiments(store: Store, alice: UserRecord, clock: FakeClock):
    store.register_trainer(address="a:1", slots=3, pipelines=["digits"], trainer_id="t1")
    store.register_trainer(address="a:2", slots=1, pipelines=["digits"], trainer_id="t2")
    experiments = []
    for _ in range(3):
        experiments.append(store.create_experiment(alice.id, "digits", {}))
        clock.advance(1)
    store.claim_pending("t1", 2)
    store.transition(experiments[2].id, RUNNING, caller=None, trainer_id="t2")
    store.transition(experiments[0].id, SUCCEEDED, caller=None)

    trainers = {t.id: t for t in store.list_trainers()}

    assert (trainers["t1"].running, trainers["t1"].free_slots) == (1, 2)
    assert (trainers["t2"].running, trainers["t2"].free_slots) == (1, 0)


LEASE = timedelta(seconds=15)


def test_a_heartbeat_acknowledges_what_is_stored_and_names_runs_to_forget(
    store: Store, alice: UserRecord, clock: FakeClock
):
    store.register_trainer(address="a:1", slots=3, pipelines=["digits"], trainer_id="t1")
    ours, ended, elsewhere = (created(store, alice, clock) for _ in range(3))
    store.claim_pending("t1", 2)  # ours and ended, oldest first
    store.append_event(ours.id, log_line("a"), position=4)
    store.put_artifact(ours.id, "report.md", b"#", position=7)
    store.put_artifact(ours.id, "late.md", b"#", position=5)  # never backwards
    store.finish(ended.id, SUCCEEDED, finished(), caller=None, position=3)
    store.transition(elsewhere.id, RUNNING, caller=None, trainer_id="t2")

    answer = store.heartbeat("t1", [ours.id, ended.id, elsewhere.id, "unknown"])

    assert answer.registered
    assert answer.acknowledged == {ours.id: 7}
    assert sorted(answer.forget) == sorted([ended.id, elsewhere.id, "unknown"])
    (trainer,) = [t for t in store.list_trainers() if t.id == "t1"]
    assert sorted(trainer.held) == sorted([ours.id, ended.id, elsewhere.id, "unknown"])


def test_a_new_claim_starts_the_stream_over_and_keeps_the_first_start(
    store: Store, alice: UserRecord, clock: FakeClock
):
    store.register_trainer(address="a:1", slots=1, pipelines=["digits"], trainer_id="t1")
    experiment = store.create_experiment(alice.id, "digits", {})
    (first,) = store.claim_pending("t1", 1, scheduler_id="s1", lease=LEASE)
    store.append_event(experiment.id, log_line("a"), position=9)
    store.requeue(experiment.id, lost_reason="the trainer died")
    clock.advance(30)
    (again,) = store.claim_pending("t1", 1, scheduler_id="s1", lease=LEASE)

    assert again.experiment.stream_position == 0
    assert again.experiment.started_at == first.experiment.started_at
    assert again.experiment.scheduler_id == "s1"


def test_runs_are_adopted_once_their_lease_expires_and_at_once_by_their_own_scheduler(
    store: Store, alice: UserRecord, clock: FakeClock
):
    store.register_trainer(address="a:1", slots=3, pipelines=["digits"], trainer_id="t1")
    kept, released = (created(store, alice, clock) for _ in range(2))
    store.claim_pending("t1", 2, scheduler_id="s1", lease=LEASE)
    store.scheduler_started("s1", "a:50051", alive_within=LEASE)
    clock.advance(10)
    store.scheduler_heartbeat("s1", [kept.id], LEASE)  # renews kept's lease, not released's
    clock.advance(10)

    by_other = store.adopt_runs("s2", LEASE)
    by_itself = store.adopt_runs("s1", LEASE, following=[])
    clock.advance(20)
    after_expiry = store.adopt_runs("s3", LEASE)

    assert [e.id for e in by_other] == [released.id]
    assert [e.id for e in by_itself] == [kept.id]  # its own, though its lease still runs
    assert sorted(e.id for e in after_expiry) == sorted([kept.id, released.id])
    assert {e.scheduler_id for e in after_expiry} == {"s3"}


def test_a_restarted_scheduler_adopts_its_own_runs_at_once(
    store: Store, alice: UserRecord, clock: FakeClock
):
    store.register_trainer(address="a:1", slots=1, pipelines=["digits"], trainer_id="t1")
    experiment = store.create_experiment(alice.id, "digits", {})
    store.claim_pending("t1", 1, scheduler_id="s1", lease=LEASE)

    assert store.adopt_runs("s2", LEASE) == []  # under s1's lease
    assert [e.id for e in store.adopt_runs("s1", LEASE)] == [experiment.id]
    assert store.adopt_runs("s1", LEASE, following=[experiment.id]) == []


def test_a_stopped_scheduler_releases_its_runs_at_once(
    store: Store, alice: UserRecord, clock: FakeClock
):
    store.register_trainer(address="a:1", slots=1, pipelines=["digits"], trainer_id="t1")
    experiment = store.create_experiment(alice.id, "digits", {})
    store.claim_pending("t1", 1, scheduler_id="s1", lease=LEASE)
    clock.advance(1)

    store.scheduler_stopped("s1")

    assert [e.id for e in store.adopt_runs("s2", LEASE)] == [experiment.id]


def test_no_run_is_adopted_twice(store: Store, alice: UserRecord, clock: FakeClock):
    store.register_trainer(address="a:1", slots=40, pipelines=["digits"], trainer_id="t1")
    for _ in range(40):
        store.create_experiment(alice.id, "digits", {})
        clock.advance(1)
    store.claim_pending("t1", 40)  # no scheduler holds them
    barrier = threading.Barrier(4)

    def adopt(number: int) -> list[str]:
        barrier.wait()
        return [e.id for e in store.adopt_runs(f"s{number}", LEASE)]

    with ThreadPoolExecutor(4) as pool:
        adopted = [experiment_id for ids in pool.map(adopt, range(4)) for experiment_id in ids]

    assert len(adopted) == 40 == len(set(adopted))


def test_a_second_scheduler_on_sqlite_is_refused_while_the_first_lives(
    store: Store, engine: Engine, clock: FakeClock
):
    store.scheduler_started("s1", "127.0.0.1:50051", alive_within=LEASE)

    if engine.dialect.name == "sqlite":
        with pytest.raises(
            SchedulerConflict, match=re.escape("another scheduler (s1 at 127.0.0.1:50051)")
        ):
            store.scheduler_started("s2", "127.0.0.1:50052", alive_within=LEASE)
    else:
        store.scheduler_started("s2", "127.0.0.1:50052", alive_within=LEASE)
    store.scheduler_started("s1", "127.0.0.1:50051", alive_within=LEASE)  # itself, restarted
    clock.advance(20)
    store.scheduler_started("s3", "127.0.0.1:50053", alive_within=LEASE)  # s1 went silent


def created(store: Store, owner: UserRecord, clock: FakeClock) -> ExperimentRecord:
    """A new pending experiment, a second younger than the one before."""
    clock.advance(1)
    return store.create_experiment(owner.id, "digits", {})


def finished() -> events_pb2.ExperimentEvent:
    return events_pb2.ExperimentEvent(
        experiment_finished=events_pb2.ExperimentFinished(
            status=experiment_pb2.EXPERIMENT_STATUS_SUCCEEDED
        )
    )


def test_a_cancelled_run_ends_its_log_when_its_files_have_come(
    store: Store, alice: UserRecord, clock: FakeClock
):
    store.register_trainer(address="a:1", slots=1, pipelines=["digits"], trainer_id="t1")
    experiment = created(store, alice, clock)
    store.claim_pending("t1", 1, scheduler_id="s1", lease=LEASE)

    change = store.mark_cancelled(experiment.id, "cancelled by request", caller=caller(alice))
    waiting = store.has_ended(experiment.id)
    held = store.heartbeat("t1", [experiment.id])  # the trainer still sends its files
    store.put_artifact(experiment.id, "report.md", b"# cancelled", position=3)
    ending = finished()
    ending.experiment_finished.status = experiment_pb2.EXPERIMENT_STATUS_SUCCEEDED
    stored = store.complete_cancel(experiment.id, ending, position=4)

    assert (change.previous, change.experiment.status) == (RUNNING, CANCELLED)
    assert change.experiment.finished_at is not None
    assert not waiting and store.has_ended(experiment.id)
    assert held.acknowledged == {experiment.id: 0} and held.forget == ()
    assert stored.experiment_finished.status == experiment_pb2.EXPERIMENT_STATUS_CANCELLED
    assert store.get_experiment(experiment.id, caller=None).stream_position == 4
    with pytest.raises(IllegalTransition):
        store.complete_cancel(experiment.id, finished())  # once only


def test_an_ending_whose_files_follow_keeps_the_run_followed_until_files_stored(
    store: Store, alice: UserRecord, clock: FakeClock
):
    store.register_trainer(address="a:1", slots=1, pipelines=["digits"], trainer_id="t1")
    experiment = store.create_experiment(alice.id, "digits", {})
    store.claim_pending("t1", 1, scheduler_id="s1", lease=LEASE)
    ending = events_pb2.ExperimentEvent(
        experiment_finished=events_pb2.ExperimentFinished(
            status=experiment_pb2.EXPERIMENT_STATUS_SUCCEEDED,
            metrics={"rmse": 1.5},
            files_follow=True,
        )
    )
    change, _ = store.finish(
        experiment.id, ExperimentStatus.SUCCEEDED, ending, caller=None, position=5
    )
    clock.advance(10)
    store.scheduler_heartbeat("s1", [experiment.id], LEASE)  # its lease goes on with it
    clock.advance(10)
    under_lease = store.adopt_runs("s2", LEASE)
    answer = store.heartbeat("t1", [experiment.id])
    before = store.has_ended(experiment.id)
    last = store.store_files_end(
        experiment.id, events_pb2.ExperimentEvent(files_stored=events_pb2.FilesStored(count=3))
    )
    with pytest.raises(IllegalTransition):  # stored once
        store.store_files_end(
            experiment.id, events_pb2.ExperimentEvent(files_stored=events_pb2.FilesStored())
        )
    after = store.get_experiment(experiment.id, caller=None)

    assert change.experiment.status is ExperimentStatus.SUCCEEDED
    assert change.experiment.files_pending and change.experiment.metrics == {"rmse": 1.5}
    assert under_lease == [] and answer.acknowledged == {experiment.id: 5}
    assert before is False and store.has_ended(experiment.id)
    assert last.seq == 2 and last.files_stored.count == 3
    assert not after.files_pending and after.scheduler_id is None
    assert store.adopt_runs("s2", LEASE) == []
