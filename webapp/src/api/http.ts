/**
 * Requests to the REST API under `/api/v1`, with the session's token and the API's errors.
 *
 * Every error answer is `{"error": {"code", "message", "details"}}`; it becomes an `ApiError`
 * carrying all three, so a form can put each `details[].field` next to its input. A 401 ends
 * the session (the token expired or was revoked) and the app returns to the log-in page.
 */

import { session } from "./session";
import type { FieldProblem } from "./types";
import { asArray, asObject, asString } from "./json";

export const API = "/api/v1";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: FieldProblem[] = [],
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export async function errorFrom(response: Response): Promise<ApiError> {
  let body: unknown = null;
  try {
    body = await response.json();
  } catch {
    // Not JSON: a proxy's page, or nothing at all; the status says enough.
  }
  const error = asObject(asObject(body).error);
  const details = asArray(error.details).map((item) => {
    const detail = asObject(item);
    return {
      field: asString(detail.field),
      rule: asString(detail.rule),
      message: asString(detail.message),
    };
  });
  const message =
    asString(error.message) ||
    (response.status === 503
      ? "The server cannot reach the scheduler right now; try again in a moment."
      : `The server answered ${response.status} ${response.statusText}.`);
  return new ApiError(response.status, asString(error.code) || "http_error", message, details);
}

export interface RequestOptions {
  method?: "GET" | "POST" | "PATCH";
  json?: unknown;
  /** A form: URL-encoded, or multipart with files. */
  form?: URLSearchParams | FormData;
  query?: Record<string, string | string[] | undefined>;
  signal?: AbortSignal;
  /** Send no token (logging in). */
  anonymous?: boolean;
}

export function apiUrl(path: string, query?: RequestOptions["query"]): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value === undefined || value === "") continue;
    for (const item of Array.isArray(value) ? value : [value]) params.append(key, item);
  }
  const search = params.toString();
  return `${API}/${path}${search ? `?${search}` : ""}`;
}

/** The raw response of a successful request; an `ApiError` otherwise. */
export async function send(path: string, options: RequestOptions = {}): Promise<Response> {
  const headers: Record<string, string> = { Accept: "application/json" };
  const token = session.token();
  if (token && !options.anonymous) headers.Authorization = `Bearer ${token}`;
  let body: BodyInit | undefined;
  if (options.json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(options.json);
  } else if (options.form) {
    body = options.form;
  }
  let response: Response;
  try {
    response = await fetch(apiUrl(path, options.query), {
      method: options.method ?? "GET",
      headers,
      body,
      signal: options.signal,
    });
  } catch (error) {
    if (error instanceof DOMException && error.name === "AbortError") throw error;
    throw new ApiError(0, "network", "The server cannot be reached. Check your connection and try again.");
  }
  if (!response.ok) {
    const error = await errorFrom(response);
    if (response.status === 401 && !options.anonymous) session.expire();
    throw error;
  }
  return response;
}

export async function requestJson(path: string, options: RequestOptions = {}): Promise<unknown> {
  const response = await send(path, options);
  return response.json();
}
