/**
 * The run's log lines as they arrive. It follows the newest line unless the reader has
 * scrolled up to read an older one; `role="log"` lets screen readers announce new lines.
 */

import { useEffect, useRef } from "react";
import { formatTime } from "../format";
import type { LogEntry } from "../hooks/runHistory";

export function LiveLog({ lines }: { lines: LogEntry[] }) {
  const box = useRef<HTMLDivElement>(null);
  const following = useRef(true);

  useEffect(() => {
    const element = box.current;
    if (element && following.current) element.scrollTop = element.scrollHeight;
  }, [lines]);

  return (
    <div
      ref={box}
      className="live-log"
      role="log"
      aria-label="Training log"
      tabIndex={0}
      onScroll={(event) => {
        const element = event.currentTarget;
        following.current = element.scrollHeight - element.scrollTop - element.clientHeight < 24;
      }}
    >
      {lines.length === 0 ? (
        <p className="muted">No log lines yet.</p>
      ) : (
        lines.map((line) => (
          <div key={line.seq} className={`log-line log-${line.level.toLowerCase()}`}>
            <time className="log-time">{formatTime(line.time)}</time>{" "}
            <span className="log-level">{line.level}</span>{" "}
            <span className="log-message">{line.message}</span>
          </div>
        ))
      )}
    </div>
  );
}
