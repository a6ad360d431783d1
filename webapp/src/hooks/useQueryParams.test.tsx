import { act, render, screen } from "@testing-library/react";
import { MemoryRouter, useLocation, useNavigate } from "react-router";
import { describe, expect, it } from "vitest";
import { useQueryParams } from "./useQueryParams";

let setParam: (name: string, value: string) => void = () => undefined;
let navigate: (to: string) => void = () => undefined;

function Probe() {
  const [params, set] = useQueryParams();
  setParam = set;
  navigate = useNavigate();
  return (
    <>
      <p data-testid="shown">{params.toString()}</p>
      <p data-testid="url">{useLocation().search}</p>
    </>
  );
}

function renderAt(path: string) {
  render(
    <MemoryRouter initialEntries={[path]}>
      <Probe />
    </MemoryRouter>,
  );
}

describe("useQueryParams", () => {
  it("starts from the URL", () => {
    renderAt("/?status=succeeded&q=epochs%3D3");
    expect(screen.getByTestId("shown").textContent).toBe("status=succeeded&q=epochs%3D3");
  });

  it("keeps both of two changes made before the page renders again", () => {
    renderAt("/?status=succeeded&q=epochs%3D3");
    act(() => {
      setParam("q", "");
      setParam("status", "");
    });
    expect(screen.getByTestId("shown").textContent).toBe("");
    expect(screen.getByTestId("url").textContent).toBe("");
  });

  it("follows a change of URL that came from elsewhere", () => {
    renderAt("/?q=lstm");
    act(() => setParam("status", "running"));
    expect(screen.getByTestId("url").textContent).toBe("?q=lstm&status=running");
    act(() => navigate("/?pipeline=weather_forecaster"));
    expect(screen.getByTestId("shown").textContent).toBe("pipeline=weather_forecaster");
  });

  it("writing what the URL already says waits for nothing", () => {
    renderAt("/?q=lstm");
    act(() => setParam("q", "lstm"));
    act(() => navigate("/?q=gru"));
    expect(screen.getByTestId("shown").textContent).toBe("q=gru");
  });
});
