/** Experiments over REST: submit, list, look at, rename, cancel, and read what a run wrote. */

import { ApiError, requestJson, send } from "./http";
import {
  parseExperiment,
  parseExperimentPage,
  type Experiment,
  type ExperimentPage,
  type ExperimentStatus,
} from "./types";

export interface ListQuery {
  statuses?: ExperimentStatus[];
  pipeline?: string;
  pageSize?: number;
  pageToken?: string;
}

export async function listExperiments(query: ListQuery = {}, signal?: AbortSignal): Promise<ExperimentPage> {
  const data = await requestJson("experiments", {
    signal,
    query: {
      status: query.statuses?.length ? query.statuses : undefined,
      pipeline: query.pipeline,
      page_size: query.pageSize ? String(query.pageSize) : undefined,
      page_token: query.pageToken,
    },
  });
  return parseExperimentPage(data);
}

export async function getExperiment(id: string, signal?: AbortSignal): Promise<Experiment> {
  return parseExperiment(await requestJson(`experiments/${encodeURIComponent(id)}`, { signal }));
}

/**
 * Submit a run, named `name` when it is not empty; a bad config or name is an `ApiError` whose
 * details name each field (`config.epochs`, `name`).
 */
export async function submitExperiment(
  pipeline: string,
  config: Record<string, unknown>,
  name = "",
): Promise<Experiment> {
  const json = name.trim() ? { pipeline, config, name } : { pipeline, config };
  return parseExperiment(await requestJson("experiments", { method: "POST", json }));
}

/** Give a run a new name; an empty one clears it. A bad name is an `ApiError` naming `name`. */
export async function renameExperiment(id: string, name: string): Promise<Experiment> {
  return parseExperiment(
    await requestJson(`experiments/${encodeURIComponent(id)}`, { method: "PATCH", json: { name } }),
  );
}

export async function cancelExperiment(id: string): Promise<Experiment> {
  return parseExperiment(
    await requestJson(`experiments/${encodeURIComponent(id)}/cancel`, { method: "POST" }),
  );
}

/** The name of the report a run writes, among its files. */
export const REPORT_NAME = "report.md";

/** The run's `report.md`; null while it has none (404). */
export async function getReport(id: string, signal?: AbortSignal): Promise<string | null> {
  try {
    const response = await send(`experiments/${encodeURIComponent(id)}/report`, { signal });
    return await response.text();
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return null;
    throw error;
  }
}

function artifactPath(id: string, name: string): string {
  const path = name.split("/").map(encodeURIComponent).join("/");
  return `experiments/${encodeURIComponent(id)}/artifacts/${path}`;
}

/**
 * An artifact's bytes. Artifacts need the token, which an `<img src>` or a plain link cannot
 * send, so the UI fetches them and shows or saves the blob.
 */
export async function getArtifact(id: string, name: string, signal?: AbortSignal): Promise<Blob> {
  const response = await send(artifactPath(id, name), { signal });
  return response.blob();
}

/** Save an artifact to the user's downloads under its own file name. */
export async function downloadArtifact(id: string, name: string): Promise<void> {
  const blob = await getArtifact(id, name);
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = name.split("/").pop() || name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 30_000);
}
