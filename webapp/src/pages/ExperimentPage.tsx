/**
 * One experiment, live: its curves gain a point per epoch, the progress bar follows the
 * batches, the log scrolls, all from the experiment's event socket (history, then live, resumed
 * after a drop). A run that was lost and placed again says so: a notice, a line in the log, a
 * marker on the curves where the new attempt begins, and the list of its attempts. The report,
 * the files and the config are tabs, and Predict once the run succeeded; the tab is in the URL.
 * The heading is the run's name, renamed in place (`RunHeading`).
 */

import { useEffect, useMemo } from "react";
import { Link, useParams } from "react-router";
import { cancelExperiment, getExperiment, getReport, REPORT_NAME } from "../api/experiments";
import { ApiError } from "../api/http";
import { isFinished, type Experiment, type ExperimentStatus, type ResumedEvent } from "../api/types";
import { CancelButton } from "../components/CancelButton";
import { Alert, errorText } from "../components/Alert";
import { ArtifactList } from "../components/ArtifactList";
import { AttemptList } from "../components/AttemptList";
import { FinalMetrics, type FinalScores } from "../components/FinalMetrics";
import { LiveLog } from "../components/LiveLog";
import { PredictTab } from "../components/PredictTab";
import { MetricChart, type ChartMarker, type ChartSeries } from "../components/MetricChart";
import { ProgressBar } from "../components/ProgressBar";
import { ReportView } from "../components/ReportView";
import { RunHeading } from "../components/RunHeading";
import { StatusBadge } from "../components/StatusBadge";
import { Tabs } from "../components/Tabs";
import {
  formatDateTime,
  formatDuration,
  formatTime,
  formatValue,
  resumeText,
  runName,
  runSeconds,
  shortId,
  shortLossReason,
} from "../format";
import { useExperimentEvents } from "../hooks/useExperimentEvents";
import { useNow } from "../hooks/useNow";
import { useOnline } from "../hooks/useOnline";
import { usePageTitle } from "../hooks/usePageTitle";
import { useQueryParams } from "../hooks/useQueryParams";
import { useResource } from "../hooks/useResource";
import {
  metricGroups,
  resumesOnCurve,
  summarizeProgress,
  type EpochPoint,
  type RunHistory,
} from "../hooks/runHistory";
import { ScrollRegion } from "../components/ScrollRegion";

export const TRAIN_COLOR = "#1f5fbf";
export const VALIDATION_COLOR = "#c2410c";

const TABS = [
  { id: "progress", label: "Progress" },
  { id: "report", label: "Report" },
  { id: "files", label: "Files" },
  { id: "config", label: "Config" },
];
/** Shown once the run succeeded: only a succeeded run has a model to ask. */
const PREDICT_TAB = { id: "predict", label: "Predict" };

/** The status the page shows: the events are fresher than the experiment read at load. */
export function liveStatus(experiment: Experiment | undefined, history: RunHistory): ExperimentStatus {
  if (history.finished) return history.finished.status;
  const status = experiment?.status ?? "unspecified";
  if (history.startedAt && (status === "pending" || status === "unspecified")) return "running";
  return status;
}

export function chartSeries(epochs: EpochPoint[], names: string[]): ChartSeries[] {
  return names.map((name) => ({
    label: name,
    color: name.startsWith("val_") ? VALIDATION_COLOR : TRAIN_COLOR,
    dashed: name.startsWith("val_"),
    points: epochs.filter((point) => name in point.metrics).map((point) => [point.epoch, point.metrics[name] as number]),
  }));
}

/** Where each attempt still on the curves begins: after the epochs its checkpoint held. */
export function resumeMarkers(resumes: ResumedEvent[]): ChartMarker[] {
  return resumesOnCurve(resumes).map((resume) => ({
    x: resume.fromEpoch,
    label: resume.attempt > 0 ? `attempt ${resume.attempt}` : "resumed",
  }));
}

export function ExperimentPage() {
  const { id = "" } = useParams();
  const [params, setParam] = useQueryParams();
  const tabParam = params.get("tab");
  const experiment = useResource((signal) => getExperiment(id, signal), [id]);
  const stream = useExperimentEvents(id);
  const { history } = stream;
  const data = experiment.data;
  const status = liveStatus(data, history);
  const tabs = status === "succeeded" ? [...TABS, PREDICT_TAB] : TABS;
  const tab = tabs.some((item) => item.id === tabParam) ? (tabParam as string) : "progress";
  const finished = isFinished(status);
  usePageTitle(data ? `${runName(data)} ${shortId(data.id)}` : "Experiment");

  // Re-read the experiment when it starts, each time it resumes and when it ends, for its times,
  // trainer, attempts, checkpoint, metrics and files.
  const { reload, setData } = experiment;
  const started = history.startedAt !== null;
  const resumes = history.resumes.length;
  // Once the files that followed the ending are stored too, for the stored list of files.
  const filesStored = finished && !history.filesPending;
  useEffect(() => {
    if (started || finished || resumes > 0) reload();
  }, [started, finished, filesStored, resumes, reload]);

  const groups = useMemo(() => metricGroups(history.epochs), [history.epochs]);
  const markers = useMemo(() => resumeMarkers(history.resumes), [history.resumes]);
  const progress = summarizeProgress(history);
  const online = useOnline();
  // Paused: the page cannot know what the run is doing, so nothing on it may pretend to tick.
  const paused = !finished && stream.connection !== "failed" && (!online || stream.connection === "reconnecting");
  const now = useNow(1000, status === "running" && !paused);

  const selectTab = (next: string) => setParam("tab", next === "progress" ? "" : next);

  if (experiment.error && !data) {
    const missing = experiment.error instanceof ApiError && experiment.error.status === 404;
    return (
      <>
        <h1 tabIndex={-1}>Experiment {shortId(id)}</h1>
        <Alert kind="error">
          {missing ? "There is no experiment with this id, or it is someone else's." : errorText(experiment.error)}
        </Alert>
        <p>
          <Link to="/experiments">Back to the experiments</Link>
        </p>
      </>
    );
  }
  if (!data) {
    return (
      <p className="muted" role="status">
        Loading the experiment…
      </p>
    );
  }

  const seconds = runSeconds({ ...data, status }, now);
  const errorMessage = history.finished?.errorMessage || data.errorMessage;
  // The event's scores when this page saw the run end, else the stored experiment's.
  const final = history.finished ?? data;
  const finalScores: FinalScores = {
    metrics: finished ? { ...data.metrics, ...(history.finished?.metrics ?? {}) } : {},
    baselines: final.baselines,
    references: final.references,
  };
  const artifacts = data.artifacts.length >= history.artifacts.length ? data.artifacts : history.artifacts;
  const latestResume = history.resumes.at(-1);

  return (
    <>
      <div className="page-head">
        <div>
          <p className="breadcrumb">
            <Link to="/experiments">Experiments</Link> <span aria-hidden="true">/</span>
            {data.sweepId ? (
              <>
                {" "}
                <Link to={`/sweeps/${encodeURIComponent(data.sweepId)}`}>
                  Trial {data.sweepTrial} of sweep {shortId(data.sweepId)}
                </Link>{" "}
                <span aria-hidden="true">/</span>
              </>
            ) : null}
          </p>
          <RunHeading experiment={data} onRenamed={(renamed) => setData(() => renamed)} />
        </div>
        <div className="page-actions">
          <span aria-live="polite" data-testid="experiment-status">
            <StatusBadge status={status} />
          </span>
          {!finished ? (
            <CancelButton
              label="Cancel run"
              question="Stop this run?"
              confirm="Yes, cancel it"
              cancel={() => cancelExperiment(data.id)}
              onCancelled={reload}
            />
          ) : null}
        </div>
      </div>

      <dl className="facts">
        <div>
          <dt>Created</dt>
          <dd>{formatDateTime(data.createdAt)}</dd>
        </div>
        <div>
          <dt>Duration</dt>
          <dd>{seconds === null ? "–" : formatDuration(seconds)}</dd>
        </div>
        <div>
          <dt>Owner</dt>
          <dd>{data.owner || "–"}</dd>
        </div>
        <div>
          <dt>Trainer</dt>
          <dd className="mono">{data.trainerId || "–"}</dd>
        </div>
        <div>
          <dt>Checkpoint</dt>
          <dd>{data.checkpointEpoch > 0 ? `after epoch ${data.checkpointEpoch}` : "none"}</dd>
        </div>
        <div>
          <dt>Id</dt>
          <dd className="mono small">{data.id}</dd>
        </div>
      </dl>

      {status === "failed" || (status === "cancelled" && errorMessage) ? (
        <Alert kind="error">
          <strong>{status === "failed" ? "The run failed" : "The run was cancelled"}:</strong> {errorMessage || "no reason given"}
        </Alert>
      ) : null}
      {status === "cancelled" && !errorMessage ? <Alert kind="info">The run was cancelled.</Alert> : null}
      {status === "succeeded" ? <Alert kind="success">The run succeeded. Its report is in the Report tab.</Alert> : null}
      {history.filesError ? <Alert kind="info">Some of the run's files are missing: {history.filesError}</Alert> : null}
      {status === "stopped_early" ? (
        <Alert kind="info">Its sweep stopped the run early: it was behind the sweep's other trials.</Alert>
      ) : null}
      {latestResume ? (
        <ResumeNotice resume={latestResume} attemptsAllowed={data.maxRestarts > 0 ? data.maxRestarts + 1 : null} />
      ) : null}
      <div role="status" className="connection-slot">
        {paused ? (
          <div className="connection-banner" data-testid="connection-banner">
            <p>
              <strong>Live updates paused</strong>
              {stream.lastUpdate ? ` — last update ${formatTime(stream.lastUpdate)}` : ""}.{" "}
              <span className="muted">
                {online
                  ? `Reconnecting and resuming after event ${history.lastSeq}…`
                  : "The browser is offline; reconnecting as soon as it is back."}
              </span>
            </p>
            <button type="button" className="button" onClick={stream.retry}>
              Retry now
            </button>
          </div>
        ) : null}
      </div>
      {stream.connection === "failed" && stream.reason ? (
        <Alert kind="error">Live events stopped: {stream.reason}</Alert>
      ) : null}

      <Tabs label="Experiment views" tabs={tabs} selected={tab} onSelect={selectTab} idPrefix="experiment">
        {tab === "progress" ? (
          <div className="progress-view">
            <ProgressBar progress={progress} running={status === "running"} paused={paused} />
            <div className="charts">
              {groups.length === 0 ? (
                <MetricChart title="loss" series={chartSeries([], ["loss", "val_loss"])} xMax={history.totalEpochs} />
              ) : (
                groups.map((group) => (
                  <MetricChart
                    key={group.title}
                    title={group.title}
                    series={chartSeries(history.epochs, group.names)}
                    markers={markers}
                    xMax={history.totalEpochs || data.totalEpochs}
                  />
                ))
              )}
            </div>
            {finished ? <FinalMetrics scores={finalScores} /> : null}
            {data.attempts.length > 1 ? <AttemptList attempts={data.attempts} status={status} /> : null}
            <h2 className="section-title">Log</h2>
            <LiveLog lines={history.logs} />
          </div>
        ) : null}
        {tab === "report" ? (
          <ReportTab
            id={data.id}
            finished={finished}
            reportStored={artifacts.some((artifact) => artifact.name === REPORT_NAME)}
            filesPending={history.filesPending}
          />
        ) : null}
        {tab === "files" ? <ArtifactList experimentId={data.id} artifacts={artifacts} /> : null}
        {tab === "config" ? <ConfigTable config={data.config} /> : null}
        {tab === "predict" ? <PredictTab experiment={{ ...data, metrics: finalScores.metrics }} /> : null}
      </Tabs>
    </>
  );
}

/**
 * The latest resume in a plain sentence ("...: trainer-1 was lost."); the reason as the scheduler
 * wrote it, address and error code included, is under "Details" (and in the log and the attempts).
 */
function ResumeNotice({ resume, attemptsAllowed }: { resume: ResumedEvent; attemptsAllowed: number | null }) {
  const reason = resume.reason.trim();
  const detailed = reason !== "" && shortLossReason(reason) !== reason;
  return (
    <Alert kind="info">
      <span className="notice-text">{resumeText(resume, attemptsAllowed, { brief: true })}</span>
      {detailed ? (
        <details className="notice-details">
          <summary>Details</summary>
          <p>{reason}</p>
        </details>
      ) : null}
    </Alert>
  );
}

/**
 * The run's report.md, read again when the run ends and when the file is stored: a run's ending
 * may come before its files (`filesPending`), so the report can arrive a moment after it.
 */
function ReportTab({
  id,
  finished,
  reportStored,
  filesPending,
}: {
  id: string;
  finished: boolean;
  reportStored: boolean;
  filesPending: boolean;
}) {
  const report = useResource((signal) => getReport(id, signal), [id, finished, reportStored]);
  if (report.error) return <Alert kind="error">The report could not be loaded: {errorText(report.error)}</Alert>;
  if (report.loading && report.data === undefined) {
    return (
      <p className="muted" role="status">
        Loading the report…
      </p>
    );
  }
  if (!report.data) {
    return (
      <p className="muted">
        {!finished
          ? "The report appears here when the run finishes."
          : filesPending
            ? "The run has finished; its report is being written and appears here in a moment."
            : "This run wrote no report."}
      </p>
    );
  }
  return <ReportView experimentId={id} markdown={report.data} />;
}

function ConfigTable({ config }: { config: Record<string, unknown> }) {
  const entries = Object.entries(config).sort(([a], [b]) => a.localeCompare(b));
  if (entries.length === 0) return <p className="muted">This run has no settings.</p>;
  return (
    <ScrollRegion label="The run's settings">
      <table className="config-table">
        <caption className="visually-hidden">The run's settings, defaults filled in</caption>
        <thead>
          <tr>
            <th scope="col">setting</th>
            <th scope="col">value</th>
          </tr>
        </thead>
        <tbody>
          {entries.map(([key, value]) => (
            <tr key={key}>
              <th scope="row" className="mono">
                {key}
              </th>
              <td className="mono">{formatValue(value)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </ScrollRegion>
  );
}
