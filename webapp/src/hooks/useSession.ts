/** The current session, re-rendering when it starts, changes or ends. */

import { useSyncExternalStore } from "react";
import { session, type Session } from "../api/session";

export function useSession(): Session | null {
  return useSyncExternalStore(
    (onChange) => session.subscribe(onChange),
    () => session.get(),
  );
}
