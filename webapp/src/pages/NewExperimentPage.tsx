/**
 * Launch a run: pick a pipeline, adjust its config in a form drawn from the pipeline's schema,
 * submit. The server validates; a rejected field gets the server's message under it, a summary
 * above the form links to each one, and focus moves to that summary.
 */

import { useEffect, useMemo, useRef, useState, type FormEvent } from "react";
import { useNavigate, useSearchParams } from "react-router";
import { submitExperiment } from "../api/experiments";
import { ApiError } from "../api/http";
import { listPipelines } from "../api/pipelines";
import { Alert, errorText } from "../components/Alert";
import { fieldId, SchemaForm } from "../components/SchemaForm";
import { fieldsFromSchema, initialValues, sortProblems, toConfig, type FormValues, type SortedProblems } from "../components/schemaForm";
import { usePageTitle } from "../hooks/usePageTitle";
import { useResource } from "../hooks/useResource";

const NO_PROBLEMS: SortedProblems = { byField: {}, general: [] };

interface Draft {
  pipeline: string;
  values: FormValues;
  problems: SortedProblems;
  failure: string;
}

export function NewExperimentPage() {
  usePageTitle("New experiment");
  const navigate = useNavigate();
  const [params, setParams] = useSearchParams();
  const pipelines = useResource((signal) => listPipelines(signal), []);
  // Kept here as well as in the URL: the router applies a URL change in a transition, and the
  // radio button must follow the click at once.
  const [chosen, setChosen] = useState(() => params.get("pipeline") ?? "");
  const pipeline = pipelines.data?.find((item) => item.name === chosen) ?? pipelines.data?.[0];
  const fields = useMemo(() => (pipeline ? fieldsFromSchema(pipeline.configSchema) : []), [pipeline]);
  // What the user typed and what the server said, for one pipeline: picking another starts over
  // from its defaults, in the same render (an effect would show an empty form for a moment).
  const [draft, setDraft] = useState<Draft>({ pipeline: "", values: {}, problems: NO_PROBLEMS, failure: "" });
  const current: Draft =
    draft.pipeline === (pipeline?.name ?? "")
      ? draft
      : { pipeline: pipeline?.name ?? "", values: initialValues(fields), problems: NO_PROBLEMS, failure: "" };
  const { values, problems, failure } = current;
  const update = (change: Partial<Draft>) => setDraft({ ...current, ...change });
  const [busy, setBusy] = useState(false);
  const summary = useRef<HTMLDivElement>(null);

  useEffect(() => {
    if (problems.general.length || Object.keys(problems.byField).length) summary.current?.focus();
  }, [problems]);

  const choose = (name: string) => {
    setChosen(name);
    const next = new URLSearchParams(params);
    next.set("pipeline", name);
    setParams(next, { replace: true });
  };

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    if (!pipeline) return;
    setBusy(true);
    update({ problems: NO_PROBLEMS, failure: "" });
    try {
      const experiment = await submitExperiment(pipeline.name, toConfig(fields, values));
      navigate(`/experiments/${encodeURIComponent(experiment.id)}`);
    } catch (error) {
      setBusy(false);
      if (error instanceof ApiError && error.details.length > 0) {
        update({ problems: sortProblems(error.details, fields), failure: "" });
      } else {
        update({ problems: NO_PROBLEMS, failure: errorText(error) });
      }
    }
  };

  const fieldProblems = Object.entries(problems.byField);
  const hasProblems = fieldProblems.length > 0 || problems.general.length > 0;

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
              <h2>The server did not accept this config</h2>
              <ul>
                {fieldProblems.map(([name, messages]) => (
                  <li key={name}>
                    <a href={`#${fieldId("config", name)}`}>
                      {fields.find((field) => field.name === name)?.label ?? name}
                    </a>
                    : {messages.join("; ")}
                  </li>
                ))}
                {problems.general.map((message) => (
                  <li key={message}>{message}</li>
                ))}
              </ul>
            </div>
          ) : null}
          {failure ? <Alert kind="error">The experiment could not be launched: {failure}</Alert> : null}

          <h2 className="section-title">Settings</h2>
          {pipeline.configSchema.description ? <p className="muted">{pipeline.configSchema.description}</p> : null}
          <SchemaForm
            fields={fields}
            groupOrder={pipeline.configSchema["x-groups"]}
            values={values}
            errors={problems.byField}
            disabled={busy}
            onChange={(name, value) => update({ values: { ...values, [name]: value } })}
          />
          <div className="form-actions sticky-actions">
            <button type="submit" className="button button-primary" disabled={busy}>
              {busy ? "Launching…" : `Launch ${pipeline.name}`}
            </button>
            <button
              type="button"
              className="button button-quiet"
              disabled={busy}
              onClick={() => update({ values: initialValues(fields), problems: NO_PROBLEMS, failure: "" })}
            >
              Reset to defaults
            </button>
          </div>
        </form>
      ) : null}
    </>
  );
}
