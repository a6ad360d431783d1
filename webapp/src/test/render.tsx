// The whole app at a URL, as the browser would show it, for page tests.
import { render, type RenderResult } from "@testing-library/react";
import { MemoryRouter } from "react-router";
import { App } from "../App";

export function renderApp(path: string): RenderResult {
  return render(
    <MemoryRouter initialEntries={[path]}>
      <App />
    </MemoryRouter>,
  );
}
