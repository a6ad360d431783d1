/**
 * The fields of a pipeline's config, drawn from its JSON Schema (see `schemaForm.ts`): each with
 * its label, default, help text and bounds, and the server's complaint about it, if any, right
 * under it. Inputs point at their help and error with `aria-describedby`, and a field the server
 * rejected is `aria-invalid`.
 */

import type { ReactNode } from "react";
import { defaultText, type FormField, type FormValues } from "./schemaForm";

interface Props {
  fields: FormField[];
  values: FormValues;
  errors: Record<string, string[]>;
  onChange: (name: string, value: string | boolean) => void;
  disabled?: boolean;
  idPrefix?: string;
}

export function fieldId(prefix: string, name: string): string {
  return `${prefix}-${name}`;
}

export function SchemaForm({ fields, values, errors, onChange, disabled = false, idPrefix = "config" }: Props) {
  return (
    <div className="schema-form">
      {fields.map((field) => (
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
