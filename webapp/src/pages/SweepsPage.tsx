/**
 * The sweeps, newest first: each with its pipeline, status, trials drawn of its budget and the
 * best objective so far, linked to its page. A sweep is launched from the New experiment form
 * in its Sweep mode. On a phone each sweep is a compact card, as the experiments are.
 */

import { useState } from "react";
import { Link } from "react-router";
import { listSweeps, type Sweep } from "../api/sweeps";
import { Alert, errorText } from "../components/Alert";
import { ScrollRegion } from "../components/ScrollRegion";
import { SweepStatusBadge } from "../components/SweepStatusBadge";
import { formatDateTime, formatMetric, shortId } from "../format";
import { usePageTitle } from "../hooks/usePageTitle";
import { useResource } from "../hooks/useResource";
import { sweepName } from "./SweepPage";

interface Listing {
  sweeps: Sweep[];
  nextPageToken: string;
}

export function SweepsPage() {
  usePageTitle("Sweeps");
  const listing = useResource<Listing>((signal) => listSweeps("", signal), []);
  const [loadingMore, setLoadingMore] = useState(false);
  const [moreError, setMoreError] = useState("");
  const { setData } = listing;

  const loadMore = async () => {
    const token = listing.data?.nextPageToken;
    if (!token) return;
    setLoadingMore(true);
    setMoreError("");
    try {
      const page = await listSweeps(token);
      setData((data) => {
        const seen = new Set(data?.sweeps.map((sweep) => sweep.id));
        return { sweeps: [...(data?.sweeps ?? []), ...page.sweeps.filter((sweep) => !seen.has(sweep.id))], nextPageToken: page.nextPageToken };
      });
    } catch (error) {
      setMoreError(errorText(error));
    } finally {
      setLoadingMore(false);
    }
  };

  return (
    <>
      <div className="page-head">
        <h1 tabIndex={-1}>Sweeps</h1>
        <div className="page-actions">
          <Link to="/experiments/new?mode=sweep" className="button button-primary">
            New sweep
          </Link>
        </div>
      </div>
      {listing.error ? <Alert kind="error">The sweeps could not be loaded: {errorText(listing.error)}</Alert> : null}
      {listing.loading && !listing.data ? (
        <p className="muted" role="status">
          Loading sweeps…
        </p>
      ) : listing.data && listing.data.sweeps.length === 0 ? (
        <div className="empty">
          <p>
            No sweeps yet. A sweep trains a pipeline many times over a range of settings:{" "}
            <Link to="/experiments/new?mode=sweep">launch the first one</Link>.
          </p>
        </div>
      ) : listing.data ? (
        <ScrollRegion label="The sweeps">
          <table className="sweeps-table responsive-table">
            <caption className="visually-hidden">Sweeps, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Sweep</th>
                <th scope="col">Status</th>
                <th scope="col">Trials</th>
                <th scope="col">Best</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {listing.data.sweeps.map((sweep) => (
                <tr key={sweep.id} data-sweep={sweep.id} data-status={sweep.status}>
                  <th scope="row" data-label="Sweep">
                    <Link to={`/sweeps/${encodeURIComponent(sweep.id)}`} className="run-link">
                      {sweepName(sweep)}
                    </Link>
                    {sweep.spec.name ? <span className="muted small run-list-pipeline"> {sweep.spec.pipeline}</span> : null}
                    <span className="mono muted small"> {shortId(sweep.id)}</span>
                  </th>
                  <td data-label="Status">
                    <SweepStatusBadge status={sweep.status} />
                  </td>
                  <td data-label="Trials">
                    {sweep.trials.length} / {sweep.spec.maxTrials || "–"}
                  </td>
                  <td data-label="Best">
                    {sweep.bestTrial?.objective != null ? (
                      <>
                        <span className="muted">{sweep.spec.objective.metric}</span> {formatMetric(sweep.bestTrial.objective)}
                      </>
                    ) : (
                      "–"
                    )}
                  </td>
                  <td data-label="Created">{formatDateTime(sweep.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </ScrollRegion>
      ) : null}
      {moreError ? <Alert kind="error">More sweeps could not be loaded: {moreError}</Alert> : null}
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
