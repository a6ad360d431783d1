/**
 * One sweep, live: what it searches and how, the best trial so far, the epochs it has spent
 * against what its trials would train in full, a parallel-coordinates plot of the settings
 * against the objective, the trials table and ASHA's decisions as they are made, all from the
 * stored sweep and its event socket (`useSweep`). Every trial links to its experiment page.
 */

import { Link, useParams } from "react-router";
import { ApiError } from "../api/http";
import { listPipelines } from "../api/pipelines";
import { cancelSweep, type AshaDecision, type SpaceEntry, type Sweep, type SweepTrial } from "../api/sweeps";
import type { JsonSchema } from "../api/types";
import { CancelButton } from "../components/CancelButton";
import { Alert, errorText } from "../components/Alert";
import { ParallelCoordinates } from "../components/ParallelCoordinates";
import { fieldsFromSchema } from "../components/schemaForm";
import { ScrollRegion } from "../components/ScrollRegion";
import { StatusBadge } from "../components/StatusBadge";
import { SweepStatusBadge } from "../components/SweepStatusBadge";
import { formatDateTime, formatMetric, formatTime, formatValue, shortId } from "../format";
import { epochsPerTrial } from "../hooks/sweepState";
import { useOnline } from "../hooks/useOnline";
import { usePageTitle } from "../hooks/usePageTitle";
import { useResource } from "../hooks/useResource";
import { useSweep } from "../hooks/useSweep";

const TABLE_ID = "sweep-trials";

/** What a sweep is called on screen: its name, else "<pipeline> sweep". */
export function sweepName(sweep: Pick<Sweep, "spec">): string {
  return sweep.spec.name || `${sweep.spec.pipeline} sweep`;
}

/** The objective in words: "val_loss, lower is better". */
export function objectiveText(sweep: Pick<Sweep, "spec">): string {
  const { metric, mode } = sweep.spec.objective;
  return `${metric}, ${mode === "max" ? "higher" : "lower"} is better`;
}

/** The latest rung a trial reached and what ASHA made of it, e.g. "rung 1 (epoch 3), promoted". */
export function rungText(trial: SweepTrial): string {
  const rung = trial.rungs.at(-1);
  if (!rung) return "–";
  return `rung ${rung.rung} (epoch ${rung.epoch}), ${rung.promoted ? "promoted" : "stopped"}`;
}

/**
 * The space in the order the pipeline's form shows its settings. A space travels as a protobuf
 * Struct, whose keys keep no order, so the server's order is only a fallback (for a pipeline
 * no trainer offers any more).
 */
export function inFormOrder(space: SpaceEntry[], schema: JsonSchema | undefined): SpaceEntry[] {
  if (!schema) return space;
  const order = fieldsFromSchema(schema).map((field) => field.name);
  const rank = (entry: SpaceEntry) => {
    const index = order.indexOf(entry.setting);
    return index === -1 ? order.length : index;
  };
  return [...space].sort((a, b) => rank(a) - rank(b));
}

export function SweepPage() {
  const { id = "" } = useParams();
  const live = useSweep(id);
  const { sweep, stored } = live;
  const pipelines = useResource((signal) => listPipelines(signal), []);
  usePageTitle(sweep ? `${sweepName(sweep)} ${shortId(sweep.id)}` : "Sweep");
  const online = useOnline();

  if (stored.error && !sweep) {
    const missing = stored.error instanceof ApiError && stored.error.status === 404;
    return (
      <>
        <h1 tabIndex={-1}>Sweep {shortId(id)}</h1>
        <Alert kind="error">{missing ? "There is no sweep with this id, or it is someone else's." : errorText(stored.error)}</Alert>
        <p>
          <Link to="/sweeps">Back to the sweeps</Link>
        </p>
      </>
    );
  }
  if (!sweep) {
    return (
      <p className="muted" role="status">
        Loading the sweep…
      </p>
    );
  }

  const running = sweep.status === "running";
  const paused = running && live.connection !== "failed" && (!online || live.connection === "reconnecting");
  const schema = pipelines.data?.find((pipeline) => pipeline.name === sweep.spec.pipeline)?.configSchema;
  const spec = { ...sweep.spec, space: inFormOrder(sweep.spec.space, schema) };
  const perTrial = epochsPerTrial(sweep);
  const best = sweep.bestTrial;
  const share = sweep.epochsBudget > 0 ? Math.min(1, sweep.epochsSpent / sweep.epochsBudget) : 0;

  return (
    <>
      <div className="page-head">
        <div>
          <p className="breadcrumb">
            <Link to="/sweeps">Sweeps</Link> <span aria-hidden="true">/</span>
          </p>
          <h1 tabIndex={-1}>
            {sweepName(sweep)} <span className="id-tag mono muted">{shortId(sweep.id)}</span>
          </h1>
        </div>
        <div className="page-actions">
          <span aria-live="polite" data-testid="sweep-status">
            <SweepStatusBadge status={sweep.status} />
          </span>
          {running ? (
            <CancelButton
              label="Cancel sweep"
              question="Cancel its pending and running trials?"
              confirm="Yes, cancel the sweep"
              cancel={() => cancelSweep(sweep.id)}
              onCancelled={stored.reload}
            />
          ) : null}
        </div>
      </div>

      <dl className="facts">
        <div>
          <dt>Pipeline</dt>
          <dd className="mono">{spec.pipeline}</dd>
        </div>
        <div>
          <dt>Objective</dt>
          <dd>{objectiveText(sweep)}</dd>
        </div>
        <div>
          <dt>Search</dt>
          <dd>{spec.search === "grid" ? "grid" : `random, seed ${spec.seed}`}</dd>
        </div>
        <div>
          <dt>Trials</dt>
          <dd>
            {sweep.trials.length} of {spec.maxTrials || "–"}, {spec.parallelism || 1} at once
          </dd>
        </div>
        <div>
          <dt>Early stopping</dt>
          <dd>{spec.asha ? `ASHA, first rung at epoch ${spec.asha.graceEpochs}, keeps 1/${spec.asha.reductionFactor}` : "none"}</dd>
        </div>
        <div>
          <dt>Created</dt>
          <dd>{formatDateTime(sweep.createdAt)}</dd>
        </div>
      </dl>

      {sweep.status === "failed" ? (
        <Alert kind="error">
          <strong>The sweep failed:</strong> {sweep.errorMessage || "no reason given"}
        </Alert>
      ) : null}
      {sweep.status === "cancelled" ? <Alert kind="info">The sweep was cancelled; it draws no more trials.</Alert> : null}
      {sweep.status === "succeeded" ? <Alert kind="success">The sweep is done: every trial has ended.</Alert> : null}
      <div role="status" className="connection-slot">
        {paused ? (
          <div className="connection-banner">
            <p>
              <strong>Live updates paused</strong>
              {live.lastUpdate ? ` — last update ${formatTime(live.lastUpdate)}` : ""}.{" "}
              <span className="muted">
                {online ? "Reconnecting…" : "The browser is offline; reconnecting as soon as it is back."}
              </span>
            </p>
            <button type="button" className="button" onClick={live.retry}>
              Retry now
            </button>
          </div>
        ) : null}
      </div>
      {live.connection === "failed" && live.reason ? <Alert kind="error">Live events stopped: {live.reason}</Alert> : null}

      <div className="sweep-summary">
        <section className="sweep-best" aria-labelledby="sweep-best-title" data-testid="best-trial">
          <h2 id="sweep-best-title">Best trial so far</h2>
          {best ? (
            <>
              <p className="sweep-best-value">
                <span className="muted">{spec.objective.metric}</span> {best.objective === null ? "–" : formatMetric(best.objective)}
              </p>
              <p>
                <Link to={`/experiments/${encodeURIComponent(best.experimentId)}`}>Trial {best.number}</Link>{" "}
                <StatusBadge status={best.status} />
              </p>
              <p className="mono small">
                {spec.space.map((entry) => `${entry.setting}=${formatSetting(best.settings[entry.setting])}`).join(" · ")}
              </p>
            </>
          ) : (
            <p className="muted">No trial has reported {spec.objective.metric} yet.</p>
          )}
        </section>
        <section className="sweep-budget" aria-labelledby="sweep-budget-title">
          <h2 id="sweep-budget-title">Epochs</h2>
          <p>
            <strong>{sweep.epochsSpent}</strong> spent of {sweep.epochsBudget} that the trials so far would train in full
            {sweep.epochsBudget > 0 ? ` (${Math.round(share * 100)} %)` : ""}.
          </p>
          <div
            className="progress-track"
            role="progressbar"
            aria-label="Epochs spent of the budget"
            aria-valuemin={0}
            aria-valuemax={sweep.epochsBudget}
            aria-valuenow={sweep.epochsSpent}
          >
            <div className="progress-fill" style={{ width: `${share * 100}%` }} />
          </div>
          {perTrial ? <p className="muted small">Each trial trains at most {perTrial} epochs.</p> : null}
        </section>
      </div>

      <h2 className="section-title">Settings against {spec.objective.metric}</h2>
      {sweep.trials.length ? (
        <ParallelCoordinates space={spec.space} objective={spec.objective} trials={sweep.trials} best={best} tableId={TABLE_ID} />
      ) : (
        <p className="muted">The plot appears when the first trial is drawn.</p>
      )}

      <h2 className="section-title" id={`${TABLE_ID}-title`}>
        Trials
      </h2>
      <TrialTable sweep={{ ...sweep, spec }} perTrial={perTrial} />

      <h2 className="section-title">Early-stopping decisions</h2>
      <DecisionList decisions={live.decisions} asha={spec.asha !== null} />
    </>
  );
}

function TrialTable({ sweep, perTrial }: { sweep: Sweep; perTrial: number }) {
  const { spec } = sweep;
  if (sweep.trials.length === 0) return <p className="muted">No trial has been drawn yet.</p>;
  return (
    <ScrollRegion label="The sweep's trials">
      <table id={TABLE_ID} className="trials-table responsive-table">
        <caption className="visually-hidden">
          The trials, each with its settings, status, epochs, {spec.objective.metric} and latest rung; the best is marked
        </caption>
        <thead>
          <tr>
            <th scope="col">Trial</th>
            <th scope="col">Status</th>
            <th scope="col">Epoch</th>
            <th scope="col">{spec.objective.metric}</th>
            <th scope="col">Rung</th>
            {spec.space.map((entry) => (
              <th key={entry.setting} scope="col" className="mono">
                {entry.setting}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {sweep.trials.map((trial) => {
            const isBest = trial.number === sweep.bestTrial?.number;
            return (
              <tr key={trial.number} data-trial={trial.number} data-status={trial.status} className={isBest ? "is-best" : undefined}>
                <th scope="row" data-label="Trial">
                  <Link to={`/experiments/${encodeURIComponent(trial.experimentId)}`}>Trial {trial.number}</Link>
                  {isBest ? <span className="best-tag">best</span> : null}
                </th>
                <td data-label="Status">
                  <StatusBadge status={trial.status} />
                  {trial.stopReason ? <span className="visually-hidden">: {trial.stopReason}</span> : null}
                </td>
                <td data-label="Epoch">{perTrial ? `${trial.epochsDone} / ${perTrial}` : trial.epochsDone}</td>
                <td data-label={spec.objective.metric} className="num">
                  {trial.objective === null ? "–" : formatMetric(trial.objective)}
                </td>
                <td data-label="Rung" title={trial.stopReason || undefined}>
                  {rungText(trial)}
                </td>
                {spec.space.map((entry) => (
                  <td key={entry.setting} data-label={entry.setting} className="mono num">
                    {entry.setting in trial.settings ? formatSetting(trial.settings[entry.setting]) : "–"}
                  </td>
                ))}
              </tr>
            );
          })}
        </tbody>
      </table>
    </ScrollRegion>
  );
}

/** A drawn setting: a fraction to four significant digits (0.0440822 as 0.04408), anything else as it is. */
function formatSetting(value: unknown): string {
  return typeof value === "number" && !Number.isInteger(value) ? formatMetric(value) : formatValue(value);
}

/** ASHA's decisions, newest first, announced as they come. */
function DecisionList({ decisions, asha }: { decisions: AshaDecision[]; asha: boolean }) {
  if (!asha) return <p className="muted">This sweep stops no trial early: every trial trains all its epochs.</p>;
  const newest = [...decisions].reverse();
  return (
    <div className="decision-box">
      {decisions.length === 0 ? <p className="muted">No trial has reached the first rung yet.</p> : null}
      <ol className="decision-list" aria-live="polite" aria-label="Decisions, newest first" reversed>
        {newest.map((decision, index) => (
          <li key={decisions.length - index} data-trial={decision.trial} data-promoted={decision.result.promoted}>
            <span className={`decision-tag ${decision.result.promoted ? "is-promoted" : "is-stopped"}`}>
              {decision.result.promoted ? "Promoted" : "Stopped"}
            </span>{" "}
            <Link to={`/experiments/${encodeURIComponent(decision.experimentId)}`}>Trial {decision.trial}</Link> at rung{" "}
            {decision.result.rung} (epoch {decision.result.epoch}): {formatMetric(decision.result.objective)}, cut-off{" "}
            {formatMetric(decision.cutoff)} among {decision.trialsAtRung}
            {decision.reason ? <span className="muted small decision-reason">{decision.reason}</span> : null}
          </li>
        ))}
      </ol>
    </div>
  );
}

