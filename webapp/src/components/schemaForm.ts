/**
 * A pipeline's config JSON Schema as form fields, and the form's values back as a config.
 *
 * Pipelines declare their config with pydantic, whose JSON Schema uses: `integer`, `number`
 * (`minimum`, `maximum`, `exclusiveMinimum`, ...), `boolean`, `string` (`enum` choices,
 * `format: date`, `pattern`), arrays of numbers, and `anyOf [X, null]` for a setting that may
 * be left unset. Values are kept as typed text and sent as typed; the server validates, and
 * what it rejects comes back naming the field, shown next to it. The form does not second-guess
 * the server: what it offers and what the scheduler accepts come from the same schema.
 *
 * The layout comes from the schema too: `x-order` lists the fields as the pipeline declared
 * them (the schema reaches the browser as a protobuf Struct, whose keys keep no order), each
 * field's `x-group` says which section it is in (`x-groups` orders the sections) and
 * `x-advanced` folds it under "Advanced". A schema without them gets the shared training
 * settings first, then the rest by name, in one section.
 */

import type { FieldProblem, JsonSchema } from "../api/types";
import { formatValue } from "../format";

export type FieldKind = "integer" | "number" | "boolean" | "choice" | "date" | "text" | "list";

export interface FormField {
  name: string;
  label: string;
  help: string;
  kind: FieldKind;
  /** May be left empty, which sends null ("none"). */
  nullable: boolean;
  choices: string[];
  defaultValue: unknown;
  /** The bounds in words, e.g. "1 to 100000" or "more than 0, at most 10". */
  bounds: string;
  min?: number;
  max?: number;
  pattern?: string;
  itemKind?: "integer" | "number" | "text";
  /** The section it is shown in ("" when the schema names none). */
  group: string;
  /** Rarely changed: folded under "Advanced". */
  advanced: boolean;
}

export interface FieldGroup {
  title: string;
  fields: FormField[];
}

export type FormValues = Record<string, string | boolean>;

function types(schema: JsonSchema): string[] {
  if (Array.isArray(schema.type)) return schema.type;
  return schema.type ? [schema.type] : [];
}

/** The schema without its `null` alternative, and whether it had one. */
function unwrapNullable(schema: JsonSchema): { inner: JsonSchema; nullable: boolean } {
  const options = schema.anyOf ?? schema.oneOf;
  if (options) {
    const others = options.filter((option) => !types(option).includes("null"));
    const nullable = others.length < options.length;
    if (others.length === 1 && others[0]) {
      return { inner: { ...others[0], ...withoutAlternatives(schema) }, nullable };
    }
    return { inner: schema, nullable };
  }
  const kinds = types(schema);
  if (kinds.includes("null")) {
    const rest = kinds.filter((kind) => kind !== "null");
    return { inner: { ...schema, type: rest.length === 1 ? rest[0] : rest }, nullable: true };
  }
  return { inner: schema, nullable: false };
}

function withoutAlternatives(schema: JsonSchema): JsonSchema {
  const { anyOf: _anyOf, oneOf: _oneOf, type: _type, ...rest } = schema;
  return rest;
}

function numberBounds(schema: JsonSchema): string {
  const low =
    schema.exclusiveMinimum !== undefined
      ? { value: schema.exclusiveMinimum, strict: true }
      : schema.minimum !== undefined
        ? { value: schema.minimum, strict: false }
        : null;
  const high =
    schema.exclusiveMaximum !== undefined
      ? { value: schema.exclusiveMaximum, strict: true }
      : schema.maximum !== undefined
        ? { value: schema.maximum, strict: false }
        : null;
  if (low && high && !low.strict && !high.strict) return `${low.value} to ${high.value}`;
  const parts: string[] = [];
  if (low) parts.push(`${low.strict ? "more than" : "at least"} ${low.value}`);
  if (high) parts.push(`${high.strict ? "less than" : "at most"} ${high.value}`);
  return parts.join(", ");
}

function kindOf(schema: JsonSchema): FieldKind {
  const kinds = types(schema);
  if (schema.enum) return "choice";
  if (kinds.includes("boolean")) return "boolean";
  if (kinds.includes("integer")) return "integer";
  if (kinds.includes("number")) return "number";
  if (kinds.includes("array")) return "list";
  if (schema.format === "date") return "date";
  return "text";
}

/** `batch_size` as `Batch size`. */
function humanize(name: string): string {
  const words = name.replace(/_/g, " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** The title pydantic makes up from a field's name (`Batch Size`); a pipeline's own is kept. */
function generatedTitle(name: string): string {
  return humanize(name).replace(/\b\w/g, (letter) => letter.toUpperCase());
}

// Without `x-order` (a schema from an older trainer), the settings every pipeline has come
// first and the rest follow by name.
const FIRST_FIELDS = ["epochs", "batch_size", "learning_rate", "seed"];

function fieldOrder(schema: JsonSchema): (a: string, b: string) => number {
  const declared = schema["x-order"] ?? [];
  const rank = (name: string) => {
    const index = declared.indexOf(name);
    if (index !== -1) return index;
    const first = FIRST_FIELDS.indexOf(name);
    return declared.length + (first === -1 ? FIRST_FIELDS.length : first);
  };
  return (a, b) => rank(a) - rank(b) || a.localeCompare(b);
}

export function fieldsFromSchema(schema: JsonSchema): FormField[] {
  const order = fieldOrder(schema);
  const properties = Object.entries(schema.properties ?? {}).sort(([a], [b]) => order(a, b));
  return properties.map(([name, property]) => {
    const { inner, nullable } = unwrapNullable(property);
    const kind = kindOf(inner);
    let bounds = "";
    let itemKind: FormField["itemKind"];
    if (kind === "integer" || kind === "number") bounds = numberBounds(inner);
    if (kind === "text" && (inner.minLength !== undefined || inner.maxLength !== undefined)) {
      bounds = `${inner.minLength ?? 0} to ${inner.maxLength ?? "any number of"} characters`;
    }
    if (kind === "list") {
      const items = inner.items ?? {};
      const itemType = kindOf(items);
      itemKind = itemType === "integer" || itemType === "number" ? itemType : "text";
      const count =
        inner.minItems !== undefined && inner.maxItems !== undefined
          ? `${inner.minItems} to ${inner.maxItems} values`
          : inner.minItems !== undefined
            ? `at least ${inner.minItems} values`
            : inner.maxItems !== undefined
              ? `at most ${inner.maxItems} values`
              : "";
      const each = numberBounds(items);
      bounds = [count, each ? `each ${each}` : ""].filter(Boolean).join(", ");
    }
    const choices = (inner.enum ?? []).map((choice) => String(choice));
    const field: FormField = {
      name,
      label: property.title && property.title !== generatedTitle(name) ? property.title : humanize(name),
      help: property.description ?? inner.description ?? "",
      kind,
      nullable,
      choices,
      defaultValue: property.default,
      bounds,
      itemKind,
      group: typeof property["x-group"] === "string" ? property["x-group"] : "",
      advanced: property["x-advanced"] === true,
    };
    const min = inner.minimum ?? inner.exclusiveMinimum;
    const max = inner.maximum ?? inner.exclusiveMaximum;
    if (min !== undefined) field.min = min;
    if (max !== undefined) field.max = max;
    if (inner.pattern !== undefined) field.pattern = inner.pattern;
    return field;
  });
}

/** The form's starting values: each field's default. */
export function initialValues(fields: FormField[]): FormValues {
  const values: FormValues = {};
  for (const field of fields) {
    const value = field.defaultValue;
    if (field.kind === "boolean") values[field.name] = value === true;
    else if (value === null || value === undefined) values[field.name] = "";
    else if (Array.isArray(value)) values[field.name] = value.map(String).join(", ");
    else values[field.name] = String(value);
  }
  return values;
}

/** `text` as a number when it is one in plain decimal notation; as it is otherwise, for the server to name. */
export function typedNumber(text: string): number | string {
  const trimmed = text.trim();
  // Number("") is 0 and Number("0x10") is 16: only plain decimal notation counts as a number.
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(trimmed)) return text;
  return Number(trimmed);
}

/** The config to submit: every field, typed as its schema says. */
export function toConfig(fields: FormField[], values: FormValues): Record<string, unknown> {
  const config: Record<string, unknown> = {};
  for (const field of fields) {
    const value = values[field.name];
    if (field.kind === "boolean") {
      config[field.name] = value === true;
      continue;
    }
    const text = typeof value === "string" ? value : "";
    if (text.trim() === "") {
      config[field.name] = field.nullable ? null : field.kind === "list" ? [] : text;
      continue;
    }
    switch (field.kind) {
      case "integer":
      case "number":
        config[field.name] = typedNumber(text);
        break;
      case "list":
        config[field.name] = text
          .split(/[\s,]+/)
          .filter(Boolean)
          .map((item) => (field.itemKind === "text" ? item : typedNumber(item)));
        break;
      default:
        config[field.name] = text;
    }
  }
  return config;
}

/** The default in words, for the help text. */
export function defaultText(field: FormField): string {
  if (field.kind === "boolean") return field.defaultValue === true ? "on" : "off";
  return formatValue(field.defaultValue);
}

export interface SortedProblems {
  /** Messages by form field name. */
  byField: Record<string, string[]>;
  /** Messages that name no field of the form. */
  general: string[];
}

/**
 * The server's field errors next to the fields they name. The scheduler names a config field
 * `config.epochs` (an item of a list `config.channels.0`); a field the form does not have, or
 * an error naming none, is listed above the form instead.
 */
export function sortProblems(problems: FieldProblem[], fields: FormField[]): SortedProblems {
  const names = new Set(fields.map((field) => field.name));
  const byField: Record<string, string[]> = {};
  const general: string[] = [];
  for (const problem of problems) {
    const path = problem.field.replace(/^config\.?/, "");
    const name = path.split(/[.[]/)[0] ?? "";
    const message = problem.message || "is not valid";
    if (name && names.has(name)) {
      // The scheduler's messages may start with the field's name, which the form shows already.
      const own = message.startsWith(`${name}: `) ? message.slice(name.length + 2) : message;
      const where = path !== name && !own.startsWith(`${path}: `) ? `${path}: ` : "";
      byField[name] = [...(byField[name] ?? []), `${where}${own}`];
    } else {
      general.push(problem.field ? `${problem.field}: ${message}` : message);
    }
  }
  return { byField, general };
}


/**
 * The settings of `config` that are not at their schema default, in the form's order: what
 * tells one run of a pipeline from another in a list. Values compare as JSON, so `[8, 16]`
 * equals `[8, 16]`; a setting the schema does not know is left out.
 */
export function changedSettings(config: Record<string, unknown>, schema: JsonSchema | undefined): [string, unknown][] {
  if (!schema) return [];
  return fieldsFromSchema(schema)
    .filter((field) => field.name in config && JSON.stringify(config[field.name]) !== JSON.stringify(field.defaultValue))
    .map((field) => [field.name, config[field.name]]);
}
