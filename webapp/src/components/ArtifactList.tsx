/** What a run wrote, each with a download button (artifacts need the token; see ReportView). */

import { useState } from "react";
import { downloadArtifact } from "../api/experiments";
import type { Artifact } from "../api/types";
import { formatBytes } from "../format";
import { ScrollRegion } from "./ScrollRegion";

export function ArtifactList({ experimentId, artifacts }: { experimentId: string; artifacts: Artifact[] }) {
  const [problem, setProblem] = useState("");
  const [busy, setBusy] = useState("");
  if (artifacts.length === 0) return <p className="muted">This run has stored no files yet.</p>;
  const download = (name: string) => {
    setBusy(name);
    setProblem("");
    downloadArtifact(experimentId, name)
      .catch((error: unknown) =>
        setProblem(`${name} could not be downloaded: ${error instanceof Error ? error.message : String(error)}`),
      )
      .finally(() => setBusy(""));
  };
  return (
    <>
      {problem ? (
        <p className="alert alert-error" role="alert">
          {problem}
        </p>
      ) : null}
      <ScrollRegion label="The run's files">
        <table className="artifacts">
          <caption className="visually-hidden">Files this run stored</caption>
          <thead>
            <tr>
              <th scope="col">File</th>
              <th scope="col">Size</th>
              <th scope="col">Type</th>
              <th scope="col">
                <span className="visually-hidden">Download</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {[...artifacts]
              .sort((a, b) => a.name.localeCompare(b.name))
              .map((artifact) => (
                <tr key={artifact.name}>
                  <th scope="row" className="mono">
                    {artifact.name}
                  </th>
                  <td>{formatBytes(artifact.sizeBytes)}</td>
                  <td className="muted">{artifact.contentType || "–"}</td>
                  <td>
                    <button
                      type="button"
                      className="button button-small"
                      onClick={() => download(artifact.name)}
                      disabled={busy === artifact.name}
                      aria-label={`Download ${artifact.name}`}
                    >
                      {busy === artifact.name ? "Downloading…" : "Download"}
                    </button>
                  </td>
                </tr>
              ))}
          </tbody>
        </table>
      </ScrollRegion>
    </>
  );
}
