/**
 * The experiments table. Status and pipeline filter on the server (and live in the URL, so a
 * filtered view can be bookmarked); the search box narrows the loaded rows by name, id,
 * pipeline, owner, status or a setting's value. Statuses change live: each status change from the
 * `events` socket updates its row at once and then re-reads that experiment for its times and
 * metrics; a run the list has not seen yet reloads the list.
 *
 * Each row links the run by the name its owner gave it (its pipeline when it has none), with the
 * pipeline beside it, and names the settings that differ from the pipeline's defaults, which is
 * what tells one run of a pipeline from the next. On a phone the filters fold behind a button and each
 * run is a compact card.
 */

import { useCallback, useMemo, useRef, useState } from "react";
import { Link, useNavigate } from "react-router";
import { getExperiment, listExperiments } from "../api/experiments";
import { listPipelines } from "../api/pipelines";
import { STATUSES, type Experiment, type ExperimentStatus, type StatusChange } from "../api/types";
import { Alert, errorText } from "../components/Alert";
import { StatusBadge } from "../components/StatusBadge";
import {
  formatDateTime,
  formatDuration,
  formatMetric,
  formatValue,
  headlineMetric,
  runName,
  runSeconds,
  shortId,
  STATUS_LABELS,
} from "../format";
import { useNow } from "../hooks/useNow";
import { useQueryParams } from "../hooks/useQueryParams";
import { usePageTitle } from "../hooks/usePageTitle";
import { useResource } from "../hooks/useResource";
import { useSession } from "../hooks/useSession";
import { useStatusChanges } from "../hooks/useStatusChanges";
import { ScrollRegion } from "../components/ScrollRegion";
import { changedSettings } from "../components/schemaForm";

const PAGE_SIZE = 50;
/** Changed settings shown in a row; the rest are counted. */
const SHOWN_SETTINGS = 4;

interface Listing {
  experiments: Experiment[];
  nextPageToken: string;
  totalSize: number;
}

/** Whether `experiment` matches the search words (all of them, anywhere). */
export function matchesSearch(experiment: Experiment, search: string): boolean {
  const words = search.toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) return true;
  const haystack = [
    experiment.name,
    experiment.id,
    experiment.pipeline,
    experiment.owner,
    STATUS_LABELS[experiment.status],
    ...Object.entries(experiment.config).map(([key, value]) => `${key}=${formatValue(value)}`),
  ]
    .join(" ")
    .toLowerCase();
  return words.every((word) => haystack.includes(word));
}

export function ExperimentsPage() {
  usePageTitle("Experiments");
  const navigate = useNavigate();
  const current = useSession();
  const isAdmin = current?.user?.role === "admin";
  const [params, setParam] = useQueryParams();
  const status = (params.get("status") ?? "") as ExperimentStatus | "";
  const pipeline = params.get("pipeline") ?? "";
  const search = params.get("q") ?? "";
  const [selected, setSelected] = useState<string[]>([]);
  const [announcement, setAnnouncement] = useState("");
  const [loadingMore, setLoadingMore] = useState(false);
  const [moreError, setMoreError] = useState("");
  const [filtersOpen, setFiltersOpen] = useState(false);

  const pipelines = useResource((signal) => listPipelines(signal), []);
  const listing = useResource<Listing>(
    (signal) => listExperiments({ statuses: status ? [status] : [], pipeline, pageSize: PAGE_SIZE }, signal),
    [status, pipeline],
  );
  const { setData, reload } = listing;
  const rowsRef = useRef<Experiment[]>([]);
  rowsRef.current = listing.data?.experiments ?? [];

  const refresh = useCallback(
    (id: string) => {
      getExperiment(id).then(
        (fresh) =>
          setData((data) =>
            data ? { ...data, experiments: data.experiments.map((e) => (e.id === id ? fresh : e)) } : data,
          ),
        () => undefined,
      );
    },
    [setData],
  );

  const onChange = useCallback(
    (change: StatusChange) => {
      const known = rowsRef.current.some((experiment) => experiment.id === change.experimentId);
      setAnnouncement(
        `${runName(change)} ${shortId(change.experimentId)} is now ${STATUS_LABELS[change.status].toLowerCase()}.`,
      );
      if (!known) {
        if ((!status || status === change.status) && (!pipeline || pipeline === change.pipeline)) reload();
        return;
      }
      setData((data) =>
        data
          ? {
              ...data,
              experiments: data.experiments.map((experiment) =>
                experiment.id === change.experimentId
                  ? { ...experiment, status: change.status, errorMessage: change.errorMessage || experiment.errorMessage }
                  : experiment,
              ),
            }
          : data,
      );
      refresh(change.experimentId);
    },
    [status, pipeline, reload, refresh, setData],
  );
  const connection = useStatusChanges(onChange, reload);

  const schemas = useMemo(
    () => new Map((pipelines.data ?? []).map((item) => [item.name, item.configSchema])),
    [pipelines.data],
  );
  const activeFilters = [status, pipeline, search].filter(Boolean).length;

  const rows = useMemo(
    () => (listing.data?.experiments ?? []).filter((experiment) => matchesSearch(experiment, search)),
    [listing.data, search],
  );
  const anyRunning = rows.some((experiment) => experiment.status === "running");
  const now = useNow(1000, anyRunning);

  const loadMore = async () => {
    const token = listing.data?.nextPageToken;
    if (!token) return;
    setLoadingMore(true);
    setMoreError("");
    try {
      const page = await listExperiments({ statuses: status ? [status] : [], pipeline, pageSize: PAGE_SIZE, pageToken: token });
      setData((data) => {
        const seen = new Set(data?.experiments.map((e) => e.id));
        return {
          experiments: [...(data?.experiments ?? []), ...page.experiments.filter((e) => !seen.has(e.id))],
          nextPageToken: page.nextPageToken,
          totalSize: page.totalSize,
        };
      });
    } catch (error) {
      setMoreError(errorText(error));
    } finally {
      setLoadingMore(false);
    }
  };

  const toggle = (id: string) =>
    setSelected((ids) => (ids.includes(id) ? ids.filter((other) => other !== id) : [...ids, id]));

  return (
    <>
      <div className="page-head" data-live={connection}>
        <h1 tabIndex={-1}>Experiments</h1>
        <div className="page-actions">
          <button
            type="button"
            className="button"
            disabled={selected.length < 2}
            onClick={() => navigate(`/compare?ids=${selected.map(encodeURIComponent).join(",")}`)}
          >
            Compare selected ({selected.length})
          </button>
          <Link to="/experiments/new" className="button button-primary">
            New experiment
          </Link>
        </div>
      </div>

      <button
        type="button"
        className="button filters-toggle"
        aria-expanded={filtersOpen}
        aria-controls="experiment-filters"
        onClick={() => setFiltersOpen((open) => !open)}
      >
        {filtersOpen ? "Hide filters" : "Filters"}
        {activeFilters ? ` (${activeFilters} on)` : ""}
      </button>
      <form
        id="experiment-filters"
        className={`filters${filtersOpen ? " is-open" : ""}`}
        role="search"
        aria-label="Filter experiments"
        onSubmit={(e) => e.preventDefault()}
      >
        <div className="field">
          <label htmlFor="filter-status">Status</label>
          <select id="filter-status" value={status} onChange={(e) => setParam("status", e.target.value)}>
            <option value="">All statuses</option>
            {STATUSES.map((name) => (
              <option key={name} value={name}>
                {STATUS_LABELS[name]}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="filter-pipeline">Pipeline</label>
          <select id="filter-pipeline" value={pipeline} onChange={(e) => setParam("pipeline", e.target.value)}>
            <option value="">All pipelines</option>
            {(pipelines.data ?? []).map((item) => (
              <option key={item.name} value={item.name}>
                {item.name}
              </option>
            ))}
            {pipeline && !pipelines.data?.some((item) => item.name === pipeline) ? (
              <option value={pipeline}>{pipeline}</option>
            ) : null}
          </select>
        </div>
        <div className="field field-grow">
          <label htmlFor="filter-search">Search</label>
          <input
            id="filter-search"
            type="search"
            value={search}
            placeholder="name, id, pipeline, owner or setting, e.g. epochs=5"
            onChange={(e) => setParam("q", e.target.value)}
          />
        </div>
      </form>

      <p className="visually-hidden" role="status" aria-live="polite">
        {announcement}
      </p>
      {connection === "reconnecting" ? (
        <p className="muted small" role="status">
          Live updates paused; reconnecting…
        </p>
      ) : null}

      {listing.error ? <Alert kind="error">The experiments could not be loaded: {errorText(listing.error)}</Alert> : null}

      {listing.loading && !listing.data ? (
        <p className="muted" role="status">
          Loading experiments…
        </p>
      ) : listing.data && rows.length === 0 ? (
        <div className="empty">
          {listing.data.experiments.length === 0 && !status && !pipeline ? (
            <p>
              No experiments yet. <Link to="/experiments/new">Launch the first one</Link>.
            </p>
          ) : (
            <p>No experiment matches these filters.</p>
          )}
        </div>
      ) : listing.data ? (
        <ScrollRegion label="The experiments">
          <table className="experiments-table responsive-table">
            <caption className="visually-hidden">
              Experiments, newest first{search ? `, matching “${search}”` : ""}
            </caption>
            <thead>
              <tr>
                <th scope="col" className="select-cell">
                  <span className="visually-hidden">Select to compare</span>
                </th>
                <th scope="col">Run</th>
                <th scope="col">Status</th>
                <th scope="col">Epochs</th>
                <th scope="col">Created</th>
                <th scope="col">Duration</th>
                <th scope="col">Best metric</th>
                {isAdmin ? <th scope="col">Owner</th> : null}
              </tr>
            </thead>
            <tbody>
              {rows.map((experiment) => {
                const seconds = runSeconds(experiment, now);
                const metric = headlineMetric(experiment.metrics);
                const label = `${runName(experiment)} ${shortId(experiment.id)}`;
                const changed = changedSettings(experiment.config, schemas.get(experiment.pipeline));
                return (
                  <tr key={experiment.id} data-experiment={experiment.id} data-status={experiment.status}>
                    <td className="select-cell">
                      <input
                        type="checkbox"
                        aria-label={`Select ${label} to compare`}
                        checked={selected.includes(experiment.id)}
                        onChange={() => toggle(experiment.id)}
                      />
                    </td>
                    <th scope="row" data-label="Run">
                      <Link to={`/experiments/${encodeURIComponent(experiment.id)}`} className="run-link">
                        {runName(experiment)}
                      </Link>
                      {experiment.name ? <span className="muted small run-list-pipeline"> {experiment.pipeline}</span> : null}
                      <span className="mono muted small"> {shortId(experiment.id)}</span>
                      {experiment.sweepId ? (
                        <Link to={`/sweeps/${encodeURIComponent(experiment.sweepId)}`} className="sweep-tag small">
                          trial {experiment.sweepTrial} of sweep {shortId(experiment.sweepId)}
                        </Link>
                      ) : null}
                      {changed.length ? (
                        <span className="run-settings small" title="Settings that differ from the pipeline's defaults">
                          {changed
                            .slice(0, SHOWN_SETTINGS)
                            .map(([key, value]) => `${key}=${formatValue(value)}`)
                            .join(" · ")}
                          {changed.length > SHOWN_SETTINGS ? ` · +${changed.length - SHOWN_SETTINGS} more` : ""}
                        </span>
                      ) : null}
                    </th>
                    <td data-label="Status">
                      <StatusBadge status={experiment.status} />
                    </td>
                    <td data-label="Epochs">
                      {experiment.totalEpochs ? `${experiment.epochsDone} / ${experiment.totalEpochs}` : "–"}
                    </td>
                    <td data-label="Created">{formatDateTime(experiment.createdAt)}</td>
                    <td data-label="Duration">{seconds === null ? "–" : formatDuration(seconds)}</td>
                    <td data-label="Best metric">
                      {metric ? (
                        <>
                          <span className="muted">{metric[0]}</span> {formatMetric(metric[1])}
                        </>
                      ) : (
                        "–"
                      )}
                    </td>
                    {isAdmin ? <td data-label="Owner">{experiment.owner}</td> : null}
                  </tr>
                );
              })}
            </tbody>
          </table>
        </ScrollRegion>
      ) : null}

      {moreError ? <Alert kind="error">More experiments could not be loaded: {moreError}</Alert> : null}
      {listing.data?.nextPageToken ? (
        <p>
          <button type="button" className="button" onClick={loadMore} disabled={loadingMore}>
            {loadingMore ? "Loading…" : "Load more"}
          </button>
        </p>
      ) : null}
    </>
  );
}
