// Runs before every component test file: jest-dom's matchers, a stand-in for uPlot (jsdom has
// no canvas), blob URLs (jsdom has none), and a clean session and fetch for each test.
import "@testing-library/jest-dom/vitest";
import { cleanup } from "@testing-library/react";
import { afterEach, vi } from "vitest";

vi.mock("uplot", async () => (await import("./fakeUplot")).uplotModule);

let blobs = 0;
URL.createObjectURL = vi.fn(() => `blob:test/${(blobs += 1)}`);
URL.revokeObjectURL = vi.fn();

afterEach(async () => {
  cleanup();
  const { session } = await import("../api/session");
  session.logOut();
  window.sessionStorage.clear();
  vi.unstubAllGlobals();
  vi.useRealTimers();
});
