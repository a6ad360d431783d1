/** An experiment's status as a coloured badge; the word is always there, not just the colour. */

import type { ExperimentStatus } from "../api/types";
import { STATUS_LABELS } from "../format";

export function StatusBadge({ status }: { status: ExperimentStatus }) {
  return (
    <span className={`status status-${status}`} data-status={status}>
      <span className="status-dot" aria-hidden="true" />
      {STATUS_LABELS[status]}
    </span>
  );
}
