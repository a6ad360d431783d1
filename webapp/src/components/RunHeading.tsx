/**
 * A run page's heading: the run's name (its pipeline when it has none), and a Rename button that
 * turns the heading into a text field in place. Enter (or Save) sends the new name, Escape (or
 * Cancel) goes back without sending; an empty name clears it. The server checks names, so its
 * refusal is shown under the field, which keeps focus to try again. Focus moves into the field
 * when it opens and back to the Rename button when it closes, so a keyboard user never lands on
 * nothing.
 */

import { useEffect, useRef, useState, type FormEvent, type KeyboardEvent } from "react";
import { renameExperiment } from "../api/experiments";
import { ApiError } from "../api/http";
import type { Experiment } from "../api/types";
import { runName, shortId } from "../format";
import { errorText } from "./Alert";

const FIELD_ID = "run-name";

/** What the server said about the name, without the field's own name in front. */
function problemText(error: unknown): string {
  if (error instanceof ApiError) {
    const about = error.details.find((problem) => problem.field === "name");
    if (about) return about.message.replace(/^name: /, "");
  }
  return errorText(error);
}

export function RunHeading({ experiment, onRenamed }: { experiment: Experiment; onRenamed: (renamed: Experiment) => void }) {
  const [editing, setEditing] = useState(false);
  const [draft, setDraft] = useState("");
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState("");
  const input = useRef<HTMLInputElement>(null);
  const renameButton = useRef<HTMLButtonElement>(null);
  // Set when the field closes, so the effect below can hand focus back once the button is drawn.
  const returnFocus = useRef(false);

  useEffect(() => {
    if (editing) {
      input.current?.focus();
      input.current?.select();
    } else if (returnFocus.current) {
      returnFocus.current = false;
      renameButton.current?.focus();
    }
  }, [editing]);

  const open = () => {
    setDraft(experiment.name);
    setProblem("");
    setEditing(true);
  };
  const close = () => {
    returnFocus.current = true;
    setEditing(false);
    setProblem("");
  };
  const save = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    setBusy(true);
    setProblem("");
    try {
      onRenamed(await renameExperiment(experiment.id, draft));
      close();
    } catch (error) {
      setProblem(problemText(error));
      input.current?.focus();
    } finally {
      setBusy(false);
    }
  };
  const onKeyDown = (event: KeyboardEvent<HTMLInputElement>) => {
    if (event.key === "Escape" && !busy) {
      event.preventDefault();
      close();
    }
  };

  const heading = (className?: string) => (
    <h1 tabIndex={-1} className={className}>
      {runName(experiment)} <span className="mono muted id-tag">{shortId(experiment.id)}</span>
    </h1>
  );
  if (editing) {
    const errorId = `${FIELD_ID}-error`;
    return (
      <form className="run-rename" onSubmit={save} aria-label="Rename the run" noValidate>
        {/* The page keeps its heading for screen readers while the field stands in for it. */}
        {heading("visually-hidden")}
        <label htmlFor={FIELD_ID} className="visually-hidden">
          Name
        </label>
        <input
          ref={input}
          id={FIELD_ID}
          type="text"
          autoComplete="off"
          value={draft}
          placeholder={experiment.pipeline}
          disabled={busy}
          aria-invalid={problem ? true : undefined}
          aria-describedby={problem ? errorId : undefined}
          onChange={(event) => setDraft(event.target.value)}
          onKeyDown={onKeyDown}
        />
        <button type="submit" className="button button-primary button-small" disabled={busy}>
          {busy ? "Saving…" : "Save"}
        </button>
        <button type="button" className="button button-quiet button-small" onClick={close} disabled={busy}>
          Cancel
        </button>
        {problem ? (
          <p id={errorId} className="field-error" role="alert">
            <span aria-hidden="true">⚠ </span>
            Not renamed: {problem}
          </p>
        ) : null}
      </form>
    );
  }
  return (
    <div className="run-heading">
      {heading()}
      <button ref={renameButton} type="button" className="button button-quiet button-small" onClick={open}>
        Rename
      </button>
      {experiment.name ? <p className="muted run-pipeline">{experiment.pipeline}</p> : null}
    </div>
  );
}
