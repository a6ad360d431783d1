import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { fakeApi, startSession, wireExperiment, type Handler } from "../test/fakeApi";
import { FakeWebSocket } from "../test/fakeSocket";
import { renderApp } from "../test/render";

const ID = "dddddddd-0004";

/** The run page of a run called `name`, whose PATCH answers with `rename`. */
async function runPage(name: string, rename: Handler) {
  FakeWebSocket.install();
  await startSession();
  const api = fakeApi({
    [`GET experiments/${ID}`]: () => ({ json: wireExperiment({ experiment_id: ID, name }) }),
    [`PATCH experiments/${ID}`]: rename,
  });
  renderApp(`/experiments/${ID}`);
  return api;
}

function renamedTo(request: { body: unknown }) {
  const { name } = request.body as { name: string };
  return { json: wireExperiment({ experiment_id: ID, name: name.trim() }) };
}

describe("the run's heading", () => {
  it("shows the run's name with its pipeline beside it, or the pipeline alone", async () => {
    await runPage("baseline", renamedTo);
    expect(await screen.findByRole("heading", { level: 1, name: "baseline dddddddd" })).toBeInTheDocument();
    expect(screen.getByText("weather_forecaster", { selector: ".run-pipeline" })).toBeInTheDocument();
    expect(document.title).toMatch(/^baseline dddddddd/);
  });

  it("renames in place: Enter saves, focus goes into the field and back to the button", async () => {
    const api = await runPage("", renamedTo);
    await screen.findByRole("heading", { level: 1, name: "weather_forecaster dddddddd" });
    const rename = screen.getByRole("button", { name: "Rename" });
    await userEvent.click(rename);
    const field = screen.getByRole("textbox", { name: "Name" });
    expect(field).toHaveFocus();
    expect(field).toHaveValue("");
    await userEvent.type(field, "  two layers {Enter}");
    expect(await screen.findByRole("heading", { level: 1, name: "two layers dddddddd" })).toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Rename" })).toHaveFocus();
    const patch = api.calls.find((call) => call.method === "PATCH");
    expect(patch?.url.pathname).toBe(`/api/v1/experiments/${ID}`);
    expect(patch?.body).toEqual({ name: "  two layers " });
  });

  it("cancels with Escape without sending anything", async () => {
    const api = await runPage("baseline", renamedTo);
    await userEvent.click(await screen.findByRole("button", { name: "Rename" }));
    const field = screen.getByRole("textbox", { name: "Name" });
    expect(field).toHaveValue("baseline");
    await userEvent.clear(field);
    await userEvent.type(field, "something else{Escape}");
    expect(screen.getByRole("heading", { level: 1, name: "baseline dddddddd" })).toBeVisible();
    expect(screen.getByRole("button", { name: "Rename" })).toHaveFocus();
    expect(api.calls.some((call) => call.method === "PATCH")).toBe(false);
  });

  it("shows the server's refusal next to the field, which keeps focus, and clears a name", async () => {
    let refuse = true;
    await runPage("baseline", (request) =>
      refuse
        ? {
            status: 422,
            json: {
              error: {
                code: "invalid_argument",
                message: "name: must not contain control characters such as newlines or tabs",
                details: [{ field: "name", rule: "control_character", message: "name: must not contain control characters such as newlines or tabs" }],
              },
            },
          }
        : renamedTo(request),
    );
    await userEvent.click(await screen.findByRole("button", { name: "Rename" }));
    const field = screen.getByRole("textbox", { name: "Name" });
    await userEvent.type(field, "{Enter}");
    const alert = await screen.findByRole("alert");
    expect(alert).toHaveTextContent("Not renamed: must not contain control characters such as newlines or tabs");
    await waitFor(() => expect(field).toHaveFocus());
    expect(field).toHaveAttribute("aria-invalid", "true");
    expect(field).toHaveAccessibleDescription(/must not contain control characters/);

    refuse = false;
    await userEvent.clear(field);
    await userEvent.click(within(screen.getByRole("form", { name: "Rename the run" })).getByRole("button", { name: "Save" }));
    expect(await screen.findByRole("heading", { level: 1, name: "weather_forecaster dddddddd" })).toBeVisible();
    expect(screen.queryByText("weather_forecaster", { selector: ".run-pipeline" })).not.toBeInTheDocument();
    expect(screen.queryByRole("alert")).not.toBeInTheDocument();
  });
});
