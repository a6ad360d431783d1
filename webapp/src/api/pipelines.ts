/** The installed pipelines, each with the JSON Schema its config form is drawn from. */

import { requestJson } from "./http";
import { parsePipelines, type Pipeline } from "./types";

export async function listPipelines(signal?: AbortSignal): Promise<Pipeline[]> {
  return parsePipelines(await requestJson("pipelines", { signal }));
}
