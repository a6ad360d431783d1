/**
 * The page's query parameters, as state. A view's filters, tab or choice live in the URL so that
 * it can be bookmarked, but the router applies a URL change in a transition: read from the router
 * alone, a control lags its user, and two quick changes (clear the search, then the status) build
 * the second URL from the first's stale parameters and undo the first. So the parameters the page
 * shows are kept here, each change is made to the latest of them, and the router's own changes
 * are followed once it has caught up with ours (a link to the same page, Back).
 */

import { useCallback, useEffect, useRef, useState } from "react";
import { useSearchParams } from "react-router";

export function useQueryParams(): [URLSearchParams, (name: string, value: string) => void] {
  const [routed, setRouted] = useSearchParams();
  const [shown, setShown] = useState(routed);
  const latest = useRef(routed);
  // The last URL written here that the router has not shown yet.
  const pending = useRef<string | null>(null);
  const routedText = routed.toString();
  const lastRouted = useRef(routedText);
  lastRouted.current = routedText;

  useEffect(() => {
    if (pending.current === null) {
      latest.current = new URLSearchParams(routedText);
      setShown(latest.current);
    } else if (routedText === pending.current) {
      pending.current = null;
    }
  }, [routedText]);

  const set = useCallback(
    (name: string, value: string) => {
      const next = new URLSearchParams(latest.current);
      if (value) next.set(name, value);
      else next.delete(name);
      latest.current = next;
      // Writing what the router already shows changes nothing there, so nothing is awaited.
      pending.current = next.toString() === lastRouted.current ? null : next.toString();
      setShown(next);
      setRouted(next, { replace: true });
    },
    [setRouted],
  );
  return [shown, set];
}
