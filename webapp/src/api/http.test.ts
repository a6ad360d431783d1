import { describe, expect, it } from "vitest";
import { fakeApi, startSession } from "../test/fakeApi";
import { ApiError, requestJson } from "./http";
import { SESSION_EXPIRED_MESSAGE, session } from "./session";

describe("requestJson", () => {
  it("sends the session's token", async () => {
    await startSession();
    const api = fakeApi({ "GET pipelines": () => ({ json: { pipelines: [] } }) });
    await requestJson("pipelines");
    expect(api.calls[0]?.headers.get("Authorization")).toBe("Bearer header.payload.signature");
  });

  it("turns an error answer into an ApiError with the fields it names", async () => {
    await startSession();
    fakeApi({
      "POST experiments": () => ({
        status: 422,
        json: {
          error: {
            code: "invalid_argument",
            message: "invalid config",
            details: [{ field: "config.epochs", rule: "greater_than_equal", message: "epochs: must be at least 1" }],
          },
        },
      }),
    });
    const error = await requestJson("experiments", { method: "POST", json: {} }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({
      status: 422,
      code: "invalid_argument",
      message: "invalid config",
      details: [{ field: "config.epochs", rule: "greater_than_equal", message: "epochs: must be at least 1" }],
    });
  });

  it("ends the session on 401, saying it expired", async () => {
    await startSession();
    fakeApi({ "GET experiments": () => ({ status: 401, json: { error: { code: "unauthenticated", message: "token expired" } } }) });
    await expect(requestJson("experiments")).rejects.toMatchObject({ status: 401 });
    expect(session.get()).toBeNull();
    expect(session.lastEnded()?.message).toBe(SESSION_EXPIRED_MESSAGE);
  });

  it("says the server cannot be reached when the network fails", async () => {
    fakeApi({});
    globalThis.fetch = () => Promise.reject(new TypeError("Failed to fetch"));
    await expect(requestJson("pipelines")).rejects.toMatchObject({ code: "network" });
  });
});

describe("session", () => {
  it("keeps the session in sessionStorage and ends it when its token expires", async () => {
    const { vi } = await import("vitest");
    vi.useFakeTimers();
    session.start({ token: "t", expiresAt: Date.now() + 1000, user: null });
    expect(JSON.parse(window.sessionStorage.getItem("azuraforge.session") ?? "{}").token).toBe("t");
    vi.advanceTimersByTime(1001);
    expect(session.get()).toBeNull();
    expect(session.lastEnded()?.message).toBe(SESSION_EXPIRED_MESSAGE);
    expect(window.sessionStorage.getItem("azuraforge.session")).toBeNull();
  });
});
