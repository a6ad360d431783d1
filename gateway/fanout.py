"""One scheduler `WatchExperiment` stream per experiment, shared by every viewer in this process.

A popular experiment may have many browser tabs on it; opening a scheduler stream (and a NATS
subscription behind it) per tab would multiply the scheduler's work by the audience. So each
experiment with viewers has one `ExperimentFeed`: a task that reads one `WatchExperiment` stream
and offers each event to every `Viewer` of it.

**Never stalled by a slow viewer.** The feed never waits for a viewer: each viewer has its own
bounded buffer, and a viewer whose buffer is full is cut off (`Viewer.next` raises `SlowViewer`;
the WebSocket closes with a code that says so) instead of holding the feed back. A cut-off
viewer reconnects with `after=<last seq it saw>` and gets exactly what it missed.

**Late joiners: a private replay up to the shared stream's position.** The feed keeps no
history. It starts at the experiment's `last_seq` when its first viewer joins, and from then on
delivers every new event to every viewer joined at the time. A viewer that joins records
`boundary`, the furthest seq the feed had reached (or started after) when it joined: every event
after `boundary` will still reach it through the feed, and every event up to `boundary` is
already stored by the scheduler. So the viewer first replays `(after, boundary]` through a
`WatchExperiment` call of its own, made with its own token and stopped at `boundary`, then
reads the feed, skipping anything up to what it already sent. The result has no gap and no
duplicate; the cost is one short replay call per viewer, bounded by the history it asked for.
The alternative, a feed that keeps every event it has seen, would hold whole histories in the
gateway's memory for as long as anyone watches.

**One serialisation per event, and no task woken per viewer where none is needed.** The feed
turns each event into its WebSocket text once (`Frame`), whatever the audience; every viewer
sends the same text. A viewer whose socket is idle and writable takes the frame at once through
its `sink`, a plain function that writes it into the socket's buffer, so an event reaches a
thousand idle viewers in one pass of the feed's loop without waking a thousand tasks. Only a
viewer that is busy (still replaying, or waiting for its client to make room) gets the frame in
its bounded buffer, which its own task sends; the cut-off rule above applies to that buffer
alone, exactly as before.

The feed's own stream runs with the credentials of the viewer that started it; every viewer is
checked with its own token before it joins (see `gateway.routes.events`). A feed stops when its
last viewer leaves, or when its stream ends (after the experiment's last event) or fails, which
ends every viewer's `next` with that outcome.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncGenerator, Callable, Iterator

import grpc

from azuraforge.v1 import events_pb2, scheduler_pb2, scheduler_pb2_grpc
from gateway.call_gate import CallGate
from gateway.json_form import json_text
from gateway.websocket_frames import text_frame

log = logging.getLogger(__name__)

Metadata = tuple[tuple[str, str], ...]
# Opens a stream of an experiment's events after a seq, with the given call metadata.
WatchOpener = Callable[[str, int, Metadata], AsyncGenerator[events_pb2.ExperimentEvent, None]]
# An event's text as every viewer sends it.
Encoder = Callable[[events_pb2.ExperimentEvent], str]


class Frame:
    """One live event and its text, made once per gateway and shared by every viewer."""

    __slots__ = ("_wire", "event", "seq", "text")

    def __init__(self, event: events_pb2.ExperimentEvent, text: str) -> None:
        self.event = event
        self.seq = event.seq
        self.text = text
        self._wire: bytes | None = None

    def wire(self) -> bytes:
        """The text as a WebSocket frame, built by the first viewer that writes it directly."""
        if self._wire is None:
            self._wire = text_frame(self.text)
        return self._wire


# Writes a frame to an idle viewer's socket without waiting; False when it cannot right now
# (the socket's buffer is full, or the frame is not the next one), and the viewer's task must.
Sink = Callable[[Frame], bool]


class SlowViewer(Exception):
    """The viewer's buffer overflowed: it fell too far behind the live events and was cut off."""


class Viewer:
    """One viewer's place in a feed: a bounded buffer of frames it has yet to send."""

    def __init__(self, feed: ExperimentFeed, boundary: int, capacity: int) -> None:
        self.feed = feed
        # Events up to here come from the viewer's own replay, later ones from the feed.
        self.boundary = boundary
        self._capacity = capacity
        self._frames: deque[Frame] = deque()
        self._wake = asyncio.Event()
        self._ended = False
        self._error: BaseException | None = None
        self._on_cut_off: Callable[[], None] | None = None
        self._sink: Sink | None = None
        # True while the viewer's task waits in `next` with nothing left to send: only then
        # may the feed write through the sink, so frames never overtake one another.
        self._idle = False

    def on_cut_off(self, callback: Callable[[], None]) -> None:
        """Call `callback` the moment the viewer is cut off, even while it is busy sending."""
        self._on_cut_off = callback

    def write_through(self, sink: Sink) -> None:
        """Let the feed hand frames straight to `sink` while this viewer is idle."""
        self._sink = sink

    async def next(self) -> Frame | None:
        """The next live frame its sink did not take; None once the experiment's stream ended.

        Raises `SlowViewer` once the viewer has been cut off, and the feed's error when its
        stream failed (both after nothing else is left to send).
        """
        while True:
            if self._frames:
                return self._frames.popleft()
            if self._ended:
                if self._error is not None:
                    raise self._error
                return None
            self._wake.clear()
            self._idle = True
            try:
                await self._wake.wait()
            finally:
                self._idle = False

    def _offer(self, frame: Frame) -> None:
        if self._ended:
            return
        if self._idle and self._sink is not None and self._sink(frame):
            return
        if len(self._frames) >= self._capacity:
            self._frames.clear()
            self._end(SlowViewer(f"more than {self._capacity} events behind"))
            self.feed.leave(self)
            if self._on_cut_off is not None:
                self._on_cut_off()
            return
        self._frames.append(frame)
        # Busy from now on, until its task has sent what is buffered.
        self._idle = False
        self._wake.set()

    def _end(self, error: BaseException | None) -> None:
        if not self._ended:
            self._ended = True
            self._error = error
            self._wake.set()


class ExperimentFeed:
    """The shared live stream of one experiment and the viewers it offers each event to."""

    def __init__(
        self,
        experiment_id: str,
        open_watch: WatchOpener,
        on_stop: Callable[[ExperimentFeed], None],
        encode: Encoder,
    ) -> None:
        self.experiment_id = experiment_id
        self._open_watch = open_watch
        self._encode = encode
        self._on_stop = on_stop
        self._viewers: set[Viewer] = set()
        self._task: asyncio.Task[None] | None = None
        # The seq the stream started after, then the seq of the last event it delivered.
        self.position = 0

    @property
    def viewers(self) -> int:
        return len(self._viewers)

    def join(self, last_seq: int, metadata: Metadata, capacity: int) -> Viewer:
        """Add a viewer, starting the stream after `last_seq` with `metadata` if it is new."""
        if self._task is None:
            self.position = last_seq
            self._task = asyncio.create_task(
                self._pump(last_seq, metadata), name=f"feed {self.experiment_id}"
            )
        viewer = Viewer(self, self.position, capacity)
        self._viewers.add(viewer)
        return viewer

    def leave(self, viewer: Viewer) -> None:
        """Forget `viewer`; the last one to leave stops the stream."""
        self._viewers.discard(viewer)
        if not self._viewers:
            self._stop()
            if self._task is not None and not self._task.done():
                self._task.cancel()

    async def wait_closed(self) -> None:
        """Until the stream's task has finished (after `leave` of the last viewer, or `close`)."""
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(self._task)

    def close(self) -> None:
        """Stop the stream now (the gateway is shutting down)."""
        self._stop()
        if self._task is not None:
            self._task.cancel()

    async def _pump(self, after_seq: int, metadata: Metadata) -> None:
        error: BaseException | None = None
        events = self._open_watch(self.experiment_id, after_seq, metadata)
        try:
            async with contextlib.aclosing(events):
                async for event in events:
                    self.position = max(self.position, event.seq)
                    if not self._viewers:
                        continue
                    frame = Frame(event, self._encode(event))
                    for viewer in list(self._viewers):
                        viewer._offer(frame)
        except grpc.RpcError as failure:
            error = failure
            log.warning("the stream of experiment %s failed: %s", self.experiment_id, failure)
        except Exception as failure:
            # A bug, not the scheduler: the viewers still end (with an internal error) rather
            # than wait for events that will never come.
            error = failure
            log.exception("the stream of experiment %s broke", self.experiment_id)
        # Stopped first, so that a viewer joining from here on gets a new feed, not this one.
        self._stop()
        for viewer in list(self._viewers):
            viewer._end(error)

    def _stop(self) -> None:
        self._on_stop(self)


class Fanout:
    """The feeds of this gateway process, one per experiment that has viewers."""

    def __init__(self, open_watch: WatchOpener, capacity: int, encode: Encoder = json_text) -> None:
        self._open_watch = open_watch
        self._capacity = capacity
        self._encode = encode
        self._feeds: dict[str, ExperimentFeed] = {}

    def feed(self, experiment_id: str) -> ExperimentFeed | None:
        """The running feed of `experiment_id`, if it has one."""
        return self._feeds.get(experiment_id)

    @contextlib.contextmanager
    def watch(self, experiment_id: str, last_seq: int, metadata: Metadata) -> Iterator[Viewer]:
        """A viewer of the experiment's live events for the `with` block.

        `last_seq` and `metadata` start the feed when the experiment has none yet: the
        experiment's stored position as the caller just read it, and the caller's credentials.
        """
        feed = self._feeds.get(experiment_id)
        if feed is None:
            feed = ExperimentFeed(experiment_id, self._open_watch, self._forget, self._encode)
            self._feeds[experiment_id] = feed
        viewer = feed.join(last_seq, metadata, self._capacity)
        try:
            yield viewer
        finally:
            feed.leave(viewer)

    async def close(self) -> None:
        """Stop every feed, for the gateway's shutdown."""
        feeds = list(self._feeds.values())
        for feed in feeds:
            feed.close()
        for feed in feeds:
            await feed.wait_closed()

    def _forget(self, feed: ExperimentFeed) -> None:
        if self._feeds.get(feed.experiment_id) is feed:
            del self._feeds[feed.experiment_id]


def scheduler_watch(stub: scheduler_pb2_grpc.SchedulerServiceStub, gate: CallGate) -> WatchOpener:
    """A `WatchOpener` on the scheduler's `WatchExperiment`, opened through `gate`."""

    async def open_watch(
        experiment_id: str, after_seq: int, metadata: Metadata
    ) -> AsyncGenerator[events_pb2.ExperimentEvent, None]:
        call = None
        try:
            async with gate.place():
                call = stub.WatchExperiment(
                    scheduler_pb2.WatchExperimentRequest(
                        experiment_id=experiment_id, after_seq=after_seq
                    ),
                    metadata=metadata,
                )
                # Taken up: the scheduler sends its headers once it is subscribed (or fails).
                await call.initial_metadata()
            async for response in call:
                yield response.event
        finally:
            # Leaving early (a viewer's replay reached its boundary, a feed lost its viewers)
            # hangs up on the scheduler instead of leaving the stream open.
            if call is not None:
                call.cancel()

    return open_watch
