// A fake REST API: routes by "METHOD path" (path under /api/v1, query ignored) answering JSON.
import { vi } from "vitest";

export type Handler = (request: { url: URL; body: unknown; headers: Headers }) => {
  status?: number;
  json?: unknown;
  text?: string;
};

export interface FakeApi {
  calls: { method: string; url: URL; body: unknown; headers: Headers }[];
}

export function fakeApi(routes: Record<string, Handler>): FakeApi {
  const api: FakeApi = { calls: [] };
  vi.stubGlobal(
    "fetch",
    vi.fn(async (input: string, init: RequestInit = {}) => {
      const url = new URL(input, "http://localhost");
      const method = init.method ?? "GET";
      const headers = new Headers(init.headers);
      let body: unknown = init.body;
      if (typeof init.body === "string" && headers.get("Content-Type") === "application/json") {
        body = JSON.parse(init.body);
      }
      api.calls.push({ method, url, body, headers });
      const path = url.pathname.replace(/^\/api\/v1\//, "");
      const handler =
        routes[`${method} ${path}`] ??
        Object.entries(routes).find(([key]) => {
          const [routeMethod, pattern] = key.split(" ");
          return routeMethod === method && new RegExp(`^${pattern}$`).test(path);
        })?.[1];
      if (!handler) {
        return new Response(JSON.stringify({ error: { code: "not_found", message: `no route ${method} ${path}`, details: [] } }), {
          status: 404,
        });
      }
      const answer = handler({ url, body, headers });
      const status = answer.status ?? 200;
      if (answer.text !== undefined) return new Response(answer.text, { status });
      return new Response(JSON.stringify(answer.json ?? {}), {
        status,
        headers: { "Content-Type": "application/json" },
      });
    }),
  );
  return api;
}

/** An experiment as the gateway sends it (the .proto's field names). */
export function wireExperiment(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    experiment_id: "11111111-aaaa-bbbb-cccc-000000000001",
    pipeline: "weather_forecaster",
    config: { epochs: 5, batch_size: 16, learning_rate: 0.01 },
    status: "EXPERIMENT_STATUS_SUCCEEDED",
    created_at: "2026-01-02T10:00:00Z",
    updated_at: "2026-01-02T10:01:00Z",
    started_at: "2026-01-02T10:00:05Z",
    finished_at: "2026-01-02T10:00:50Z",
    owner: "ada",
    trainer_id: "trainer-1",
    error_message: "",
    epochs_done: 5,
    total_epochs: 5,
    metrics: { rmse: 0.2, mae: 0.15 },
    artifacts: [],
    last_seq: 40,
    ...overrides,
  };
}

/** Log in for a test without the log-in page. */
export async function startSession(role: "admin" | "user" = "user"): Promise<void> {
  const { session } = await import("../api/session");
  session.start({
    token: "header.payload.signature",
    expiresAt: Date.now() + 3_600_000,
    user: { id: "u1", username: role === "admin" ? "root" : "ada", role },
  });
}
