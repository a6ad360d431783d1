import { screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { session } from "../api/session";
import { fakeApi, startSession } from "../test/fakeApi";
import { FakeWebSocket } from "../test/fakeSocket";
import { renderApp } from "../test/render";

const PIPELINES = { "GET pipelines": () => ({ json: { pipelines: [] } }) };
const EMPTY_LIST = { "GET experiments": () => ({ json: { experiments: [], next_page_token: "", total_size: 0 } }) };

describe("logging in and out", () => {
  it("sends a visitor to the log-in page, then back where they were going", async () => {
    FakeWebSocket.install();
    const api = fakeApi({
      ...PIPELINES,
      ...EMPTY_LIST,
      "POST auth/token": () => ({
        json: {
          access_token: "a.b.c",
          token_type: "bearer",
          expires_in: 3600,
          user: { user_id: "u1", username: "ada", role: "ROLE_USER" },
        },
      }),
    });
    renderApp("/compare");
    expect(await screen.findByRole("heading", { name: "Log in to AzuraForge" })).toBeInTheDocument();
    await userEvent.type(screen.getByLabelText("Username"), "ada");
    await userEvent.type(screen.getByLabelText("Password"), "secret");
    await userEvent.click(screen.getByRole("button", { name: "Log in" }));
    expect(await screen.findByRole("heading", { name: "Compare runs" })).toBeInTheDocument();
    expect(api.calls[0]?.body).toEqual({ username: "ada", password: "secret", grant_type: "password" });
    expect(session.token()).toBe("a.b.c");
    expect(screen.getByText("ada")).toBeInTheDocument();
  });

  it("says so when the password is wrong", async () => {
    fakeApi({
      "POST auth/token": () => ({ status: 401, json: { error: { code: "unauthenticated", message: "bad credentials" } } }),
    });
    renderApp("/login");
    await userEvent.type(screen.getByLabelText("Username"), "ada");
    await userEvent.type(screen.getByLabelText("Password"), "wrong");
    await userEvent.click(screen.getByRole("button", { name: "Log in" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("The username or password is not right");
    expect(session.get()).toBeNull();
  });

  it("returns to the log-in page with a message when the token has expired", async () => {
    FakeWebSocket.install();
    await startSession();
    fakeApi({
      ...PIPELINES,
      "GET experiments": () => ({ status: 401, json: { error: { code: "unauthenticated", message: "token expired" } } }),
    });
    renderApp("/experiments");
    expect(await screen.findByRole("heading", { name: "Log in to AzuraForge" })).toBeInTheDocument();
    expect(screen.getByRole("status")).toHaveTextContent("Your session has expired. Log in again to continue.");
  });

  it("logs out", async () => {
    FakeWebSocket.install();
    await startSession();
    fakeApi({ ...PIPELINES, ...EMPTY_LIST });
    renderApp("/experiments");
    await userEvent.click(await screen.findByRole("button", { name: "Log out" }));
    expect(await screen.findByText("You have logged out.")).toBeInTheDocument();
    expect(session.get()).toBeNull();
    expect(window.sessionStorage.getItem("azuraforge.session")).toBeNull();
  });
});
