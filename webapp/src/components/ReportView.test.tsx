import { render, screen, waitFor } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { fakeApi, startSession } from "../test/fakeApi";
import { artifactName, renderReport, ReportView } from "./ReportView";

describe("artifactName", () => {
  it.each([
    ["loss.png", "loss.png"],
    ["./plots/loss%20curve.png", "plots/loss curve.png"],
    ["https://example.com/x.png", null],
    ["/etc/passwd", null],
    ["../other/loss.png", null],
    ["#metrics", null],
    ["data:image/png;base64,AAAA", null],
  ])("%s is %s", (reference, name) => {
    expect(artifactName(reference)).toBe(name);
  });
});

describe("renderReport", () => {
  it("puts each table in a focusable, labelled scroll region and each plot in a button that opens it", () => {
    const html = renderReport(["| a | b |", "| --- | --- |", "| 1 | 2 |", "", "![The loss](loss.png)"].join("\n"));
    const holder = document.createElement("div");
    holder.innerHTML = html;
    const region = holder.querySelector(".table-scroll") as HTMLElement;
    expect(region.getAttribute("role")).toBe("region");
    expect(region.getAttribute("tabindex")).toBe("0");
    expect(region.getAttribute("aria-label")).toBe("Report table 1");
    expect(region.querySelector("table")).not.toBeNull();
    const open = holder.querySelector("button.plot-open") as HTMLElement;
    expect(open.getAttribute("aria-label")).toBe("Open The loss full size");
    expect(open.querySelector("img[data-artifact='loss.png']")).not.toBeNull();
  });

  it("renders markdown and strips whatever could run script", () => {
    const html = renderReport(
      [
        "# Report",
        "",
        "| metric | value |",
        "| --- | --- |",
        "| rmse | 0.2 |",
        "",
        "",
        '<script>alert("x")</script>',
        "",
        '<img src="x.png" onerror="alert(1)">',
        "",
        "[click](javascript:alert(1)) and [docs](https://example.com)",
      ].join("\n"),
    );
    const page = document.createElement("div");
    page.innerHTML = html;
    expect(page.querySelector("h1")?.textContent).toBe("Report");
    expect(page.querySelector("table td")?.textContent).toBe("rmse");
    expect(page.querySelector("script")).toBeNull();
    expect(html).not.toMatch(/onerror|javascript:/);
    expect(page.querySelector("img")?.getAttribute("data-artifact")).toBe("x.png");
    const external = page.querySelector('a[href="https://example.com"]');
    expect(external?.getAttribute("rel")).toBe("noopener noreferrer");
  });
});

describe("ReportView", () => {
  it("shows the report's images, fetched with the token", async () => {
    await startSession();
    const api = fakeApi({
      "GET experiments/e1/artifacts/loss.png": () => ({ text: "png bytes" }),
    });
    render(<ReportView experimentId="e1" markdown={"## Training\n\n![Loss per epoch](loss.png)\n"} />);
    const image = screen.getByRole("img", { name: "Loss per epoch" });
    await waitFor(() => expect(image).toHaveAttribute("data-loaded", "true"));
    expect(image.getAttribute("src")).toMatch(/^blob:/);
    expect(api.calls[0]?.headers.get("Authorization")).toBe("Bearer header.payload.signature");
  });

  it("says when an image cannot be loaded", async () => {
    await startSession();
    fakeApi({});
    render(<ReportView experimentId="e1" markdown={"![Loss](loss.png)"} />);
    expect(await screen.findByRole("alert")).toHaveTextContent("The image loss.png could not be loaded");
  });
});
