/** A danger button that asks before it cancels (a run, a sweep), and says so if cancelling failed. */

import { useState } from "react";
import { Alert, errorText } from "./Alert";

export interface CancelButtonProps {
  /** The button's text, e.g. "Cancel run". */
  label: string;
  /** The question asked before cancelling, e.g. "Stop this run?". */
  question: string;
  /** The confirming button's text, e.g. "Yes, cancel it". */
  confirm: string;
  cancel: () => Promise<unknown>;
  onCancelled: () => void;
}

export function CancelButton({ label, question, confirm, cancel, onCancelled }: CancelButtonProps) {
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState("");
  const confirmed = async () => {
    setBusy(true);
    setProblem("");
    try {
      await cancel();
      onCancelled();
    } catch (error) {
      setProblem(errorText(error));
    } finally {
      setBusy(false);
      setConfirming(false);
    }
  };
  if (!confirming) {
    return (
      <>
        <button type="button" className="button button-danger" onClick={() => setConfirming(true)}>
          {label}
        </button>
        {problem ? <Alert kind="error">Cancelling failed: {problem}</Alert> : null}
      </>
    );
  }
  return (
    <div className="confirm" role="group" aria-label="Confirm cancelling">
      <span>{question}</span>
      <button type="button" className="button button-danger" onClick={confirmed} disabled={busy} autoFocus>
        {busy ? "Cancelling…" : confirm}
      </button>
      <button type="button" className="button button-quiet" onClick={() => setConfirming(false)} disabled={busy}>
        Keep running
      </button>
    </div>
  );
}
