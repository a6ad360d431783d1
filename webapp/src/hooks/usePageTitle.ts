/** The browser tab's title for a page: "Experiments · AzuraForge". */

import { useEffect } from "react";

export function usePageTitle(title: string): void {
  useEffect(() => {
    document.title = title ? `${title} · AzuraForge` : "AzuraForge";
  }, [title]);
}
