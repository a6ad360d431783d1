/**
 * Launch a run: name it if you like, pick a pipeline, adjust its config in a form drawn from the
 * pipeline's schema, submit. The server validates; a rejected field (the name included) gets the
 * server's message under it, a summary above the form links to each one, and focus moves to that
 * summary. The name is kept when another pipeline is picked; the settings start over.
 *
 * In Sweep mode (`?mode=sweep`) the same form is a sweep's base config, and below it the user
 * picks the settings to vary, the budget, the objective and ASHA (`SweepSettings`); Launch
 * submits the sweep and opens its page.
 */

import { useEffect, useMemo, useRef, useState, type FormEvent } from "react";
import { useNavigate } from "react-router";
import { submitExperiment } from "../api/experiments";
import { submitSweep } from "../api/sweeps";
import { ApiError } from "../api/http";
import type { FieldProblem } from "../api/types";
import { listPipelines } from "../api/pipelines";
import { Alert, errorText } from "../components/Alert";
import { fieldId, SchemaForm } from "../components/SchemaForm";
import { fieldsFromSchema, initialValues, sortProblems, toConfig, type FormValues, type SortedProblems } from "../components/schemaForm";
import { SweepSettings, varyId } from "../components/SweepSettings";
import {
  initialSweepDraft,
  sortSweepProblems,
  sweepRequest,
  variableFields,
  variedNames,
  type SweepDraft,
  type SweepProblems,
} from "../components/sweepForm";
import { usePageTitle } from "../hooks/usePageTitle";
import { useQueryParams } from "../hooks/useQueryParams";
import { useResource } from "../hooks/useResource";

const NO_PROBLEMS: SortedProblems = { byField: {}, general: [] };
const NO_SWEEP_PROBLEMS: Pick<SweepProblems, "space" | "sweep"> = { space: {}, sweep: {} };
/** The labels of the sweep's own inputs, for the error summary. */
const SWEEP_LABELS: Record<string, string> = {
  "sweep-search": "Search",
  "sweep-seed": "Seed",
  "sweep-trials": "Trials",
  "sweep-parallelism": "Trials at once",
  "sweep-metric": "Metric",
  "sweep-mode": "Better is",
  "sweep-asha": "Early stopping",
  "sweep-grace": "Grace epochs",
  "sweep-eta": "Reduction factor η",
};
const NAME_ID = "experiment-name";
/** The scheduler's limit (scheduler/names.py), counted there in characters after trimming. */
const NAME_MAX_LENGTH = 100;

/** The server's message about the name, without the field's own name in front; "" for none. */
function nameProblem(details: FieldProblem[]): string {
  return details
    .filter((problem) => problem.field === "name")
    .map((problem) => problem.message.replace(/^name: /, ""))
    .join("; ");
}

interface Draft {
  pipeline: string;
  values: FormValues;
  problems: SortedProblems;
  failure: string;
  sweep: SweepDraft;
  sweepProblems: Pick<SweepProblems, "space" | "sweep">;
}

export function NewExperimentPage() {
  usePageTitle("New experiment");
  const navigate = useNavigate();
  const pipelines = useResource((signal) => listPipelines(signal), []);
  const [params, setParam] = useQueryParams();
  const chosen = params.get("pipeline") ?? "";
  const choose = (name: string) => setParam("pipeline", name);
  const sweepMode = params.get("mode") === "sweep";
  const pipeline = pipelines.data?.find((item) => item.name === chosen) ?? pipelines.data?.[0];
  const fields = useMemo(() => (pipeline ? fieldsFromSchema(pipeline.configSchema) : []), [pipeline]);
  // What the user typed and what the server said, for one pipeline: picking another starts over
  // from its defaults, in the same render (an effect would show an empty form for a moment).
  const [draft, setDraft] = useState<Draft>({
    pipeline: "",
    values: {},
    problems: NO_PROBLEMS,
    failure: "",
    sweep: initialSweepDraft([]),
    sweepProblems: NO_SWEEP_PROBLEMS,
  });
  const current: Draft =
    draft.pipeline === (pipeline?.name ?? "")
      ? draft
      : {
          pipeline: pipeline?.name ?? "",
          values: initialValues(fields),
          problems: NO_PROBLEMS,
          failure: "",
          sweep: initialSweepDraft(fields),
          sweepProblems: NO_SWEEP_PROBLEMS,
        };
  const { values, problems, failure, sweepProblems } = current;
  const update = (change: Partial<Draft>) => setDraft({ ...current, ...change });
  const [name, setName] = useState("");
  const [nameError, setNameError] = useState("");
  const [busy, setBusy] = useState(false);
  const summary = useRef<HTMLDivElement>(null);

  useEffect(() => {
    const count =
      problems.general.length +
      Object.keys(problems.byField).length +
      Object.keys(sweepProblems.space).length +
      Object.keys(sweepProblems.sweep).length;
    if (nameError || count) summary.current?.focus();
  }, [problems, sweepProblems, nameError]);

  const submitSweepDraft = async () => {
    if (!pipeline) return;
    try {
      const sweep = await submitSweep(sweepRequest(pipeline.name, fields, values, current.sweep, name));
      navigate(`/sweeps/${encodeURIComponent(sweep.id)}`);
    } catch (error) {
      setBusy(false);
      if (error instanceof ApiError && error.details.length > 0) {
        const sorted = sortSweepProblems(error.details, fields, variedNames(fields, current.sweep));
        setNameError(sorted.name.join("; "));
        update({ problems: sorted.config, failure: "", sweepProblems: { space: sorted.space, sweep: sorted.sweep } });
      } else {
        update({ problems: NO_PROBLEMS, failure: errorText(error) });
      }
    }
  };

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    if (!pipeline) return;
    setBusy(true);
    setNameError("");
    update({ problems: NO_PROBLEMS, failure: "", sweepProblems: NO_SWEEP_PROBLEMS });
    if (sweepMode) {
      await submitSweepDraft();
      return;
    }
    try {
      const experiment = await submitExperiment(pipeline.name, toConfig(fields, values), name);
      navigate(`/experiments/${encodeURIComponent(experiment.id)}`);
    } catch (error) {
      setBusy(false);
      if (error instanceof ApiError && error.details.length > 0) {
        // `name` is the request's own field; every other one is the config's.
        setNameError(nameProblem(error.details));
        const others = error.details.filter((problem) => problem.field !== "name");
        update({ problems: sortProblems(others, fields), failure: "" });
      } else {
        update({ problems: NO_PROBLEMS, failure: errorText(error) });
      }
    }
  };

  const fieldProblems = Object.entries(problems.byField);
  const spaceProblems = Object.entries(sweepProblems.space);
  const ownProblems = Object.entries(sweepProblems.sweep);
  const hasProblems =
    Boolean(nameError) ||
    fieldProblems.length > 0 ||
    problems.general.length > 0 ||
    spaceProblems.length > 0 ||
    ownProblems.length > 0;

  return (
    <>
      <div className="page-head">
        <h1 tabIndex={-1}>New experiment</h1>
      </div>
      {pipelines.error ? <Alert kind="error">The pipelines could not be loaded: {errorText(pipelines.error)}</Alert> : null}
      {pipelines.loading && !pipelines.data ? (
        <p className="muted" role="status">
          Loading pipelines…
        </p>
      ) : null}
      {pipelines.data && pipelines.data.length === 0 ? (
        <Alert kind="info">No pipeline is installed. Install one (a package with a forge.pipelines entry point) and reload.</Alert>
      ) : null}
      {pipeline ? (
        <form className="new-experiment" onSubmit={submit} noValidate aria-label={`Configure ${pipeline.name}`}>
          <div className={`field field-name${nameError ? " field-invalid" : ""}`}>
            <label htmlFor={NAME_ID}>Name</label>
            <input
              id={NAME_ID}
              name="name"
              type="text"
              autoComplete="off"
              value={name}
              placeholder={`e.g. ${pipeline.name}, smaller learning rate`}
              disabled={busy}
              aria-describedby={nameError ? `${NAME_ID}-error ${NAME_ID}-help` : `${NAME_ID}-help`}
              aria-invalid={nameError ? true : undefined}
              onChange={(event) => setName(event.target.value)}
            />
            <p id={`${NAME_ID}-help`} className="field-help">
              {sweepMode
                ? `Optional: what the sweep is called, up to ${NAME_MAX_LENGTH} characters; its trials are named after it.`
                : `Optional: what the run is called in lists, up to ${NAME_MAX_LENGTH} characters. You can rename it later.`}
            </p>
            {nameError ? (
              <p id={`${NAME_ID}-error`} className="field-error">
                <span aria-hidden="true">⚠ </span>
                {nameError}
              </p>
            ) : null}
          </div>

          <fieldset className="mode-picker">
            <legend>Launch</legend>
            <label className={`mode-option${sweepMode ? "" : " is-selected"}`}>
              <input type="radio" name="mode" value="run" checked={!sweepMode} onChange={() => setParam("mode", "")} />
              <span>One run</span>
            </label>
            <label className={`mode-option${sweepMode ? " is-selected" : ""}`}>
              <input type="radio" name="mode" value="sweep" checked={sweepMode} onChange={() => setParam("mode", "sweep")} />
              <span>A sweep: many runs over ranges of settings</span>
            </label>
          </fieldset>

          <fieldset className="pipeline-picker">
            <legend>Pipeline</legend>
            {pipelines.data?.map((item) => (
              <label key={item.name} className={`pipeline-option${item.name === pipeline.name ? " is-selected" : ""}`}>
                <input
                  type="radio"
                  name="pipeline"
                  value={item.name}
                  checked={item.name === pipeline.name}
                  onChange={() => choose(item.name)}
                  aria-describedby={`pipeline-${item.name}-summary`}
                />
                <span className="pipeline-name">{item.name}</span>
                <span id={`pipeline-${item.name}-summary`} className="pipeline-summary">
                  {item.summary}
                </span>
              </label>
            ))}
          </fieldset>

          {hasProblems ? (
            <div ref={summary} className="alert alert-error error-summary" role="alert" tabIndex={-1}>
              <h2>The server did not accept this {sweepMode ? "sweep" : "config"}</h2>
              <ul>
                {nameError ? (
                  <li>
                    <a href={`#${NAME_ID}`}>Name</a>: {nameError}
                  </li>
                ) : null}
                {fieldProblems.map(([name, messages]) => (
                  <li key={name}>
                    <a href={`#${fieldId("config", name)}`}>
                      {fields.find((field) => field.name === name)?.label ?? name}
                    </a>
                    : {messages.join("; ")}
                  </li>
                ))}
                {spaceProblems.map(([setting, messages]) => (
                  <li key={`space-${setting}`}>
                    <a href={`#${varyId(setting)}`}>
                      Range of {fields.find((field) => field.name === setting)?.label ?? setting}
                    </a>
                    : {messages.join("; ")}
                  </li>
                ))}
                {ownProblems.map(([id, messages]) => (
                  <li key={id}>
                    <a href={`#${id}`}>{SWEEP_LABELS[id] ?? id}</a>: {messages.join("; ")}
                  </li>
                ))}
                {problems.general.map((message) => (
                  <li key={message}>{message}</li>
                ))}
              </ul>
            </div>
          ) : null}
          {failure ? (
            <Alert kind="error">
              The {sweepMode ? "sweep" : "experiment"} could not be launched: {failure}
            </Alert>
          ) : null}

          <h2 className="section-title">{sweepMode ? "Settings every trial shares" : "Settings"}</h2>
          {pipeline.configSchema.description ? <p className="muted">{pipeline.configSchema.description}</p> : null}
          <SchemaForm
            fields={fields}
            groupOrder={pipeline.configSchema["x-groups"]}
            values={values}
            errors={problems.byField}
            disabled={busy}
            onChange={(name, value) => update({ values: { ...values, [name]: value } })}
          />
          {sweepMode ? (
            <>
              <h2 className="section-title">Sweep</h2>
              {variableFields(fields).length === 0 ? (
                <Alert kind="info">This pipeline has no setting a sweep can vary.</Alert>
              ) : null}
              <SweepSettings
                fields={fields}
                draft={current.sweep}
                problems={sweepProblems}
                disabled={busy}
                onChange={(sweep) => update({ sweep })}
              />
            </>
          ) : null}
          <div className="form-actions sticky-actions">
            <button type="submit" className="button button-primary" disabled={busy}>
              {busy ? "Launching…" : sweepMode ? `Launch sweep of ${pipeline.name}` : `Launch ${pipeline.name}`}
            </button>
            <button
              type="button"
              className="button button-quiet"
              disabled={busy}
              onClick={() =>
                update({
                  values: initialValues(fields),
                  problems: NO_PROBLEMS,
                  failure: "",
                  sweep: initialSweepDraft(fields),
                  sweepProblems: NO_SWEEP_PROBLEMS,
                })
              }
            >
              Reset to defaults
            </button>
          </div>
        </form>
      ) : null}
    </>
  );
}
