/** A sweep's status as a badge, in the experiments' colours; the word is always there. */

import type { SweepStatus } from "../api/sweeps";

export const SWEEP_STATUS_LABELS: Record<SweepStatus, string> = {
  running: "Running",
  succeeded: "Succeeded",
  failed: "Failed",
  cancelled: "Cancelled",
  unspecified: "Unknown",
};

export function SweepStatusBadge({ status }: { status: SweepStatus }) {
  return (
    <span className={`status status-${status}`} data-status={status}>
      <span className="status-dot" aria-hidden="true" />
      {SWEEP_STATUS_LABELS[status]}
    </span>
  );
}
