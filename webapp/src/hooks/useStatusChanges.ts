/** Status changes of the user's experiments as they happen, for list pages. */

import { useEffect, useRef, useState } from "react";
import { watchStatusChanges, type ConnectionState } from "../api/events";
import type { StatusChange } from "../api/types";

/**
 * Calls `onChange` for each status change and `onConnect` on every (re)connect, when the
 * caller should re-read its list: the socket has no history, so changes made while it was
 * down would otherwise be missed.
 */
export function useStatusChanges(
  onChange: (change: StatusChange) => void,
  onConnect: () => void,
): ConnectionState {
  const handlers = useRef({ onChange, onConnect });
  handlers.current = { onChange, onConnect };
  const [connection, setConnection] = useState<ConnectionState>("connecting");
  useEffect(() => {
    let connections = 0;
    const subscription = watchStatusChanges((change) => handlers.current.onChange(change), {
      onState: (state) => setConnection(state),
      // The first connect needs no re-read: the page has just loaded its list.
      onOpen: () => {
        connections += 1;
        if (connections > 1) handlers.current.onConnect();
      },
    });
    return () => subscription.stop();
  }, []);
  return connection;
}
