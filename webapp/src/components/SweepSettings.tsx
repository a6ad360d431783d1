/**
 * The Sweep mode's part of the New experiment form (rules in sweepForm.ts): the settings to vary,
 * each with how it is drawn and its range; the search and its budget; the objective; and ASHA.
 * Each input has its help and the server's complaint about it, if any, right under it, as the
 * config's fields do.
 */

import type { ReactNode } from "react";
import type { SpaceKind } from "../api/sweeps";
import { KIND_LABELS, kindsFor, modeFor, variableFields, type RangeDraft, type SweepDraft, type SweepProblems } from "./sweepForm";
import type { FormField } from "./schemaForm";

interface Props {
  fields: FormField[];
  draft: SweepDraft;
  problems: Pick<SweepProblems, "space" | "sweep">;
  disabled: boolean;
  onChange: (draft: SweepDraft) => void;
}

/** The id of the checkbox that varies `name`, which the error summary links to. */
export function varyId(name: string): string {
  return `space-${name}`;
}

const RANGE_HELP: Record<SpaceKind, string> = {
  choice: "Values separated by commas.",
  int: "Whole numbers from the first to the second, both included.",
  uniform: "Drawn evenly between the two.",
  loguniform: "Drawn evenly on a log scale between the two: as many from 0.001 to 0.01 as from 0.01 to 0.1.",
};

const METRICS = ["val_loss", "loss", "val_accuracy", "accuracy", "val_mae", "val_rmse"];

function Field({
  id,
  label,
  help,
  errors = [],
  children,
  className = "",
}: {
  id: string;
  label: string;
  help: string;
  errors?: string[];
  children: (describedBy: string, invalid: boolean) => ReactNode;
  className?: string;
}) {
  const invalid = errors.length > 0;
  const describedBy = invalid ? `${id}-error ${id}-help` : `${id}-help`;
  return (
    <div className={`field${invalid ? " field-invalid" : ""} ${className}`.trim()}>
      <label htmlFor={id}>{label}</label>
      {children(describedBy, invalid)}
      {invalid ? (
        <p id={`${id}-error`} className="field-error">
          <span aria-hidden="true">⚠ </span>
          {errors.join("; ")}
        </p>
      ) : null}
      <p id={`${id}-help`} className="field-help">
        {help}
      </p>
    </div>
  );
}

export function SweepSettings({ fields, draft, problems, disabled, onChange }: Props) {
  const set = (change: Partial<SweepDraft>) => onChange({ ...draft, ...change });
  const setRange = (name: string, change: Partial<RangeDraft>) => {
    const range = draft.ranges[name];
    if (range) set({ ranges: { ...draft.ranges, [name]: { ...range, ...change } } });
  };
  const errorsOf = (id: string) => problems.sweep[id] ?? [];
  const textInput = (id: string, value: string, onText: (text: string) => void, numeric = true) =>
    function input(describedBy: string, invalid: boolean) {
      return (
        <input
          id={id}
          type="text"
          inputMode={numeric ? "numeric" : undefined}
          autoComplete="off"
          spellCheck={false}
          value={value}
          disabled={disabled}
          aria-describedby={describedBy}
          aria-invalid={invalid || undefined}
          onChange={(event) => onText(event.target.value)}
        />
      );
    };
  const variable = variableFields(fields);

  return (
    <div className="sweep-settings">
      <fieldset className="field-group">
        <legend>Settings to vary</legend>
        <p className="muted small">
          Each trial draws these from their ranges; every other setting is the form's value above, the same for every trial.
        </p>
        <div className="vary-list">
          {variable.map((field) => (
            <VaryRow
              key={field.name}
              field={field}
              range={draft.ranges[field.name]}
              errors={problems.space[field.name] ?? []}
              disabled={disabled}
              onChange={(change) => setRange(field.name, change)}
            />
          ))}
        </div>
      </fieldset>

      <fieldset className="field-group">
        <legend>Search</legend>
        <div className="schema-form">
          <Field id="sweep-search" label="Search" help="Random draws from every range; a grid tries every combination of lists and whole-number ranges." errors={errorsOf("sweep-search")}>
            {(describedBy, invalid) => (
              <select
                id="sweep-search"
                value={draft.search}
                disabled={disabled}
                aria-describedby={describedBy}
                aria-invalid={invalid || undefined}
                onChange={(event) => set({ search: event.target.value === "grid" ? "grid" : "random" })}
              >
                <option value="random">Random</option>
                <option value="grid">Grid</option>
              </select>
            )}
          </Field>
          <Field id="sweep-trials" label="Trials" help="How many trials at most; a grid runs at most all of its points." errors={errorsOf("sweep-trials")}>
            {textInput("sweep-trials", draft.trials, (trials) => set({ trials }))}
          </Field>
          <Field id="sweep-parallelism" label="Trials at once" help="How many trials train at the same time." errors={errorsOf("sweep-parallelism")}>
            {textInput("sweep-parallelism", draft.parallelism, (parallelism) => set({ parallelism }))}
          </Field>
          {draft.search === "random" ? (
            <Field id="sweep-seed" label="Seed" help="The same seed draws the same trials." errors={errorsOf("sweep-seed")}>
              {textInput("sweep-seed", draft.seed, (seed) => set({ seed }))}
            </Field>
          ) : null}
        </div>
      </fieldset>

      <fieldset className="field-group">
        <legend>Objective</legend>
        <div className="schema-form">
          <Field id="sweep-metric" label="Metric" help="A metric the pipeline reports each epoch, e.g. val_loss." errors={errorsOf("sweep-metric")}>
            {(describedBy, invalid) => (
              <>
                <input
                  id="sweep-metric"
                  type="text"
                  list="sweep-metrics"
                  autoComplete="off"
                  spellCheck={false}
                  value={draft.metric}
                  disabled={disabled}
                  aria-describedby={describedBy}
                  aria-invalid={invalid || undefined}
                  onChange={(event) => set({ metric: event.target.value, mode: modeFor(event.target.value) })}
                />
                <datalist id="sweep-metrics">
                  {METRICS.map((metric) => (
                    <option key={metric} value={metric} />
                  ))}
                </datalist>
              </>
            )}
          </Field>
          <Field id="sweep-mode" label="Better is" help="Whether the sweep looks for the lowest value or the highest." errors={errorsOf("sweep-mode")}>
            {(describedBy, invalid) => (
              <select
                id="sweep-mode"
                value={draft.mode}
                disabled={disabled}
                aria-describedby={describedBy}
                aria-invalid={invalid || undefined}
                onChange={(event) => set({ mode: event.target.value === "max" ? "max" : "min" })}
              >
                <option value="min">Lower (min)</option>
                <option value="max">Higher (max)</option>
              </select>
            )}
          </Field>
        </div>
      </fieldset>

      <fieldset className="field-group">
        <legend>Early stopping</legend>
        <div className="schema-form">
          <div className={`field field-boolean field-wide${errorsOf("sweep-asha").length ? " field-invalid" : ""}`}>
            <div className="checkbox-row">
              <input
                id="sweep-asha"
                type="checkbox"
                checked={draft.asha}
                disabled={disabled}
                aria-describedby={errorsOf("sweep-asha").length ? "sweep-asha-error sweep-asha-help" : "sweep-asha-help"}
                onChange={(event) => set({ asha: event.target.checked })}
              />
              <label htmlFor="sweep-asha">Stop trials that fall behind (ASHA)</label>
            </div>
            {errorsOf("sweep-asha").length ? (
              <p id="sweep-asha-error" className="field-error">
                <span aria-hidden="true">⚠ </span>
                {errorsOf("sweep-asha").join("; ")}
              </p>
            ) : null}
            <p id="sweep-asha-help" className="field-help">
              At each rung (the first after the grace epochs, then every η times as many) a trial goes on only if it is in the
              best 1/η of the trials that reached that rung.
            </p>
          </div>
          {draft.asha ? (
            <>
              <Field id="sweep-grace" label="Grace epochs" help="The first rung: epochs every trial trains before it can be stopped." errors={errorsOf("sweep-grace")}>
                {textInput("sweep-grace", draft.grace, (grace) => set({ grace }))}
              </Field>
              <Field id="sweep-eta" label="Reduction factor η" help="Each rung keeps 1/η of the trials; at least 2." errors={errorsOf("sweep-eta")}>
                {textInput("sweep-eta", draft.eta, (eta) => set({ eta }))}
              </Field>
            </>
          ) : null}
        </div>
      </fieldset>
    </div>
  );
}

function VaryRow({
  field,
  range,
  errors,
  disabled,
  onChange,
}: {
  field: FormField;
  range: RangeDraft | undefined;
  errors: string[];
  disabled: boolean;
  onChange: (change: Partial<RangeDraft>) => void;
}) {
  if (!range) return null;
  const id = varyId(field.name);
  const invalid = errors.length > 0;
  const kinds = kindsFor(field);
  const described = (own: string) => [invalid ? `${id}-error` : "", own].filter(Boolean).join(" ");
  const inputProps = (suffix: string, label: string, value: string, key: "low" | "high" | "values") => ({
    id: `${id}-${suffix}`,
    type: "text",
    autoComplete: "off",
    spellCheck: false,
    value,
    disabled,
    "aria-label": `${field.label}: ${label}`,
    "aria-describedby": described(`${id}-help`),
    "aria-invalid": invalid || undefined,
    onChange: (event: { target: { value: string } }) => onChange({ [key]: event.target.value }),
  });
  return (
    <div className={`vary-row${range.vary ? " is-varied" : ""}${invalid ? " field-invalid" : ""}`} data-setting={field.name}>
      <div className="checkbox-row">
        <input
          id={id}
          type="checkbox"
          checked={range.vary}
          disabled={disabled}
          aria-describedby={invalid ? `${id}-error` : undefined}
          onChange={(event) => onChange({ vary: event.target.checked })}
        />
        <label htmlFor={id}>
          Vary {field.label} <span className="mono muted small">{field.name}</span>
        </label>
      </div>
      {range.vary ? (
        <div className="vary-range">
          {kinds.length > 1 ? (
            <select
              id={`${id}-kind`}
              aria-label={`${field.label}: how it is drawn`}
              value={range.kind}
              disabled={disabled}
              onChange={(event) => onChange({ kind: event.target.value as SpaceKind })}
            >
              {kinds.map((kind) => (
                <option key={kind} value={kind}>
                  {KIND_LABELS[kind]}
                </option>
              ))}
            </select>
          ) : null}
          {range.kind === "choice" ? (
            <input {...inputProps("values", "values, comma-separated", range.values, "values")} className="vary-values" />
          ) : (
            <span className="vary-bounds">
              <input {...inputProps("low", "from", range.low, "low")} inputMode="decimal" />
              <span aria-hidden="true">to</span>
              <input {...inputProps("high", "to", range.high, "high")} inputMode="decimal" />
            </span>
          )}
          <p id={`${id}-help`} className="field-help">
            {RANGE_HELP[range.kind]}
            {field.bounds ? ` Allowed: ${field.bounds}.` : ""}
          </p>
        </div>
      ) : null}
      {invalid ? (
        <p id={`${id}-error`} className="field-error">
          <span aria-hidden="true">⚠ </span>
          {errors.join("; ")}
        </p>
      ) : null}
    </div>
  );
}
