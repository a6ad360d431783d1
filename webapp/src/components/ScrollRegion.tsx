/**
 * A wide table's box: it scrolls across on a narrow screen, with a shadow on the edge that has
 * more (`.table-scroll` in styles.css) and the first column pinned. It is a labelled region that
 * takes focus, so a keyboard user can scroll it with the arrow keys (axe's
 * `scrollable-region-focusable`) and a screen reader names it.
 */

import type { ReactNode } from "react";

export function ScrollRegion({ label, className = "", children }: { label: string; className?: string; children: ReactNode }) {
  return (
    <div className={`table-scroll ${className}`.trim()} role="region" aria-label={label} tabIndex={0}>
      {children}
    </div>
  );
}
