/**
 * The runs of an experiment that was lost and resumed, one row each: the trainer, the
 * checkpoint it started from, when it started and ended, and why it ended. Only the reason
 * wraps; on a phone each attempt is a card of labelled lines (`responsive-table`).
 */

import type { Attempt, ExperimentStatus } from "../api/types";
import { formatDateTime, STATUS_LABELS } from "../format";
import { ScrollRegion } from "./ScrollRegion";

/** Why an attempt ended: the loss that ended it, or, for the last one, how the run ended. */
export function attemptEnding(attempt: Attempt, status: ExperimentStatus): string {
  if (attempt.lostReason) return attempt.lostReason;
  if (!attempt.endedAt) return "Still running";
  return STATUS_LABELS[status];
}

export function AttemptList({ attempts, status }: { attempts: Attempt[]; status: ExperimentStatus }) {
  return (
    <>
      <h2 className="section-title">Attempts</h2>
      <ScrollRegion label="The run's attempts">
        <table className="attempts-table responsive-table">
          <caption className="visually-hidden">Each run of this experiment on a trainer, the first first</caption>
          <thead>
            <tr>
              <th scope="col">attempt</th>
              <th scope="col">trainer</th>
              <th scope="col">started from</th>
              <th scope="col">started</th>
              <th scope="col">ended</th>
              <th scope="col">why it ended</th>
            </tr>
          </thead>
          <tbody>
            {attempts.map((attempt) => (
              <tr key={attempt.number}>
                <th scope="row" data-label="Attempt">
                  {attempt.number}
                </th>
                <td data-label="Trainer" className="nowrap">
                  <span className="mono">{attempt.trainerId || "–"}</span>
                </td>
                <td data-label="Started from" className="nowrap">
                  {attempt.fromEpoch > 0 ? `checkpoint after epoch ${attempt.fromEpoch}` : "the beginning"}
                </td>
                <td data-label="Started" className="nowrap">
                  {formatDateTime(attempt.startedAt, { seconds: true })}
                </td>
                <td data-label="Ended" className="nowrap">
                  {formatDateTime(attempt.endedAt, { seconds: true })}
                </td>
                <td data-label="Why it ended" className="attempt-reason">
                  <span>{attemptEnding(attempt, status)}</span>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </ScrollRegion>
    </>
  );
}
