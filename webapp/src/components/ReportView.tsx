/**
 * A run's `report.md`, rendered with marked and sanitised with DOMPurify before it reaches the
 * page: reports are written by pipelines, which are plugins, so their markdown is not trusted.
 *
 * Images in the report name other artifacts by relative path (`loss.png`). Artifacts need the
 * token, which an `<img src>` cannot send, so each one is fetched and shown from a blob URL;
 * links to artifacts download them the same way. Anything pointing off the site keeps its link
 * but opens in a new tab without access to this one.
 */

import DOMPurify from "dompurify";
import { marked } from "marked";
import { useEffect, useMemo, useRef, useState, type MouseEvent } from "react";
import { downloadArtifact, getArtifact } from "../api/experiments";

/** An artifact's name from a reference in the report, or null when it points elsewhere. */
export function artifactName(reference: string): string | null {
  if (!reference || /^([a-z][a-z0-9+.-]*:|\/\/|\/|#)/i.test(reference)) return null;
  const path = reference.split(/[?#]/)[0] ?? "";
  const parts: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") return null;
    parts.push(decodeURIComponent(part));
  }
  return parts.length ? parts.join("/") : null;
}

/** The report as safe HTML; images keep their artifact name in `data-artifact` and no `src`. */
export function renderReport(markdown: string): string {
  const html = marked.parse(markdown, { async: false, gfm: true });
  const clean = DOMPurify.sanitize(html, { USE_PROFILES: { html: true } });
  const template = document.createElement("template");
  template.innerHTML = clean;
  for (const image of template.content.querySelectorAll("img")) {
    const name = artifactName(image.getAttribute("src") ?? "");
    if (name) {
      image.setAttribute("data-artifact", name);
      image.removeAttribute("src");
      // A plot shrunk to a phone's width is unreadable: a tap opens it full size.
      const open = document.createElement("button");
      open.type = "button";
      open.className = "plot-open";
      open.setAttribute("aria-label", `Open ${image.getAttribute("alt") || name} full size`);
      image.replaceWith(open);
      open.append(image);
    }
  }
  // A wide table scrolls across in a labelled region a keyboard can focus.
  template.content.querySelectorAll("table").forEach((table, index) => {
    const region = document.createElement("div");
    region.className = "table-scroll";
    region.setAttribute("role", "region");
    region.setAttribute("tabindex", "0");
    region.setAttribute("aria-label", `Report table ${index + 1}`);
    table.replaceWith(region);
    region.append(table);
  });
  for (const link of template.content.querySelectorAll("a")) {
    const name = artifactName(link.getAttribute("href") ?? "");
    if (name) link.setAttribute("data-artifact", name);
    else if (/^https?:/i.test(link.getAttribute("href") ?? "")) {
      link.setAttribute("target", "_blank");
      link.setAttribute("rel", "noopener noreferrer");
    }
  }
  return template.innerHTML;
}

export function ReportView({ experimentId, markdown }: { experimentId: string; markdown: string }) {
  const html = useMemo(() => renderReport(markdown), [markdown]);
  const holder = useRef<HTMLDivElement>(null);
  const [problem, setProblem] = useState("");

  useEffect(() => {
    const element = holder.current;
    if (!element) return;
    const controller = new AbortController();
    const urls: string[] = [];
    for (const image of element.querySelectorAll<HTMLImageElement>("img[data-artifact]")) {
      const name = image.dataset.artifact ?? "";
      getArtifact(experimentId, name, controller.signal).then(
        (blob) => {
          if (controller.signal.aborted) return;
          const url = URL.createObjectURL(blob);
          urls.push(url);
          image.src = url;
          image.dataset.loaded = "true";
        },
        (error: unknown) => {
          if (controller.signal.aborted) return;
          image.dataset.loaded = "error";
          setProblem(`The image ${name} could not be loaded: ${error instanceof Error ? error.message : String(error)}`);
        },
      );
    }
    return () => {
      controller.abort();
      for (const url of urls) URL.revokeObjectURL(url);
    };
  }, [experimentId, html]);

  const onClick = (event: MouseEvent<HTMLDivElement>) => {
    const plot = (event.target as HTMLElement).closest(".plot-open")?.querySelector("img");
    if (plot?.src) {
      window.open(plot.src, "_blank", "noopener");
      return;
    }
    const link = (event.target as HTMLElement).closest<HTMLAnchorElement>("a[data-artifact]");
    if (!link) return;
    event.preventDefault();
    downloadArtifact(experimentId, link.dataset.artifact ?? "").catch((error: unknown) =>
      setProblem(`The download failed: ${error instanceof Error ? error.message : String(error)}`),
    );
  };

  return (
    <>
      {problem ? (
        <p className="alert alert-error" role="alert">
          {problem}
        </p>
      ) : null}
      {/* The HTML is DOMPurify's output (renderReport); links are handled by delegation. */}
      <div
        ref={holder}
        className="report markdown"
        onClick={onClick}
        dangerouslySetInnerHTML={{ __html: html }}
      />
    </>
  );
}
