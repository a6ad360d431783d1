/**
 * The fields of a pipeline's config, drawn from its JSON Schema (see `schemaForm.ts`): each with
 * its label, default, help text and bounds, and the server's complaint about it, if any, right
 * under it. Inputs point at their help and error with `aria-describedby`, and a field the server
 * rejected is `aria-invalid`.
 *
 * Fields are shown in their sections (Training, Data, Model, Split...), each a `<fieldset>` with
 * a legend; the rarely changed ones are folded into one "Advanced settings" disclosure at the
 * end, with the same sections, which opens by itself when the server rejects one of them.
 */

import { useEffect, useState, type ReactNode } from "react";
import { defaultText, type FieldGroup, type FormField, type FormValues } from "./schemaForm";

interface Props {
  fields: FormField[];
  /** The sections' order (the schema's `x-groups`). */
  groupOrder?: string[];
  values: FormValues;
  errors: Record<string, string[]>;
  onChange: (name: string, value: string | boolean) => void;
  disabled?: boolean;
  idPrefix?: string;
}

export function fieldId(prefix: string, name: string): string {
  return `${prefix}-${name}`;
}

function sections(fields: FormField[], order: string[]): FieldGroup[] {
  const titles = [...order];
  for (const field of fields) if (!titles.includes(field.group)) titles.push(field.group);
  return titles
    .map((title) => ({ title, fields: fields.filter((field) => field.group === title) }))
    .filter((group) => group.fields.length > 0);
}

export function SchemaForm({
  fields,
  groupOrder = [],
  values,
  errors,
  onChange,
  disabled = false,
  idPrefix = "config",
}: Props) {
  const common = fields.filter((field) => !field.advanced);
  const advanced = fields.filter((field) => field.advanced);
  const advancedInvalid = advanced.some((field) => (errors[field.name] ?? []).length > 0);
  const [open, setOpen] = useState(false);
  useEffect(() => {
    if (advancedInvalid) setOpen(true);
  }, [advancedInvalid]);

  const renderSections = (list: FormField[], level: "main" | "advanced") =>
    sections(list, groupOrder).map((group) => {
      const inner = (
        <div className="schema-form">
          {group.fields.map((field) => (
            <SchemaField
              key={field.name}
              field={field}
              id={fieldId(idPrefix, field.name)}
              value={values[field.name] ?? ""}
              errors={errors[field.name] ?? []}
              onChange={(value) => onChange(field.name, value)}
              disabled={disabled}
            />
          ))}
        </div>
      );
      if (!group.title) return <div key={`${level}-`}>{inner}</div>;
      return (
        <fieldset key={`${level}-${group.title}`} className="field-group" data-group={group.title}>
          <legend>{group.title}</legend>
          {inner}
        </fieldset>
      );
    });

  return (
    <div className="schema-form-sections">
      {renderSections(common, "main")}
      {advanced.length > 0 ? (
        <details className="advanced-settings" open={open} onToggle={(e) => setOpen(e.currentTarget.open)}>
          <summary>
            Advanced settings <span className="muted">({advanced.length}, rarely changed)</span>
          </summary>
          {renderSections(advanced, "advanced")}
        </details>
      ) : null}
    </div>
  );
}

interface FieldProps {
  field: FormField;
  id: string;
  value: string | boolean;
  errors: string[];
  onChange: (value: string | boolean) => void;
  disabled: boolean;
}

function SchemaField({ field, id, value, errors, onChange, disabled }: FieldProps) {
  const helpId = `${id}-help`;
  const errorId = `${id}-error`;
  const invalid = errors.length > 0;
  const describedBy = invalid ? `${errorId} ${helpId}` : helpId;
  const common = {
    id,
    name: field.name,
    disabled,
    "aria-describedby": describedBy,
    "aria-invalid": invalid || undefined,
  };
  const text = typeof value === "string" ? value : "";

  let control: ReactNode;
  switch (field.kind) {
    case "boolean":
      control = (
        <input {...common} type="checkbox" checked={value === true} onChange={(e) => onChange(e.target.checked)} />
      );
      break;
    case "choice":
      control = (
        <select {...common} value={text} onChange={(e) => onChange(e.target.value)}>
          {field.nullable ? <option value="">none</option> : null}
          {field.choices.map((choice) => (
            <option key={choice} value={choice}>
              {choice}
            </option>
          ))}
        </select>
      );
      break;
    case "integer":
    case "number":
      // Text with a numeric keyboard rather than type=number: the browser would silently drop
      // a value it cannot parse, and the server's message about it would never be seen.
      control = (
        <input
          {...common}
          type="text"
          inputMode={field.kind === "integer" ? "numeric" : "decimal"}
          autoComplete="off"
          spellCheck={false}
          value={text}
          placeholder={field.nullable ? "none" : undefined}
          onChange={(e) => onChange(e.target.value)}
        />
      );
      break;
    case "date":
      control = <input {...common} type="date" value={text} onChange={(e) => onChange(e.target.value)} />;
      break;
    default:
      control = (
        <input
          {...common}
          type="text"
          autoComplete="off"
          spellCheck={false}
          value={text}
          placeholder={field.nullable ? "none" : field.kind === "list" ? "e.g. 8, 16" : undefined}
          onChange={(e) => onChange(e.target.value)}
        />
      );
  }

  // One string, so every screen reader reads it with the spaces between its sentences.
  const helpText = [
    field.help,
    field.bounds ? `Allowed: ${field.bounds}.` : "",
    `Default: ${defaultText(field)}.`,
    field.nullable ? "Leave empty for none." : "",
  ]
    .filter(Boolean)
    .join(" ");
  const help = (
    <p id={helpId} className="field-help">
      {helpText}
    </p>
  );
  const error = invalid ? (
    <p id={errorId} className="field-error">
      <span aria-hidden="true">⚠ </span>
      {errors.join("; ")}
    </p>
  ) : null;

  return (
    <div className={`field field-${field.kind}${invalid ? " field-invalid" : ""}`} data-field={field.name}>
      {field.kind === "boolean" ? (
        <div className="checkbox-row">
          {control}
          <label htmlFor={id}>{field.label}</label>
        </div>
      ) : (
        <>
          <label htmlFor={id}>{field.label}</label>
          {control}
        </>
      )}
      {error}
      {help}
    </div>
  );
}
