/**
 * Reading JSON that no `.proto` describes: the gateway's error body (`{"error": {...}}`) and the
 * inside of a prediction, which travels as a free-form `google.protobuf.Struct`. Messages of
 * the API itself are read through their generated schemas (messages.ts); these readers are for
 * what is left, and turn anything unexpected into an empty value instead of throwing.
 */

export type Json = Record<string, unknown>;

export function asObject(value: unknown): Json {
  return value !== null && typeof value === "object" && !Array.isArray(value)
    ? (value as Json)
    : {};
}

export function asString(value: unknown): string {
  return typeof value === "string" ? value : "";
}

/** A number, or 0 for anything else. */
export function asNumber(value: unknown): number {
  return typeof value === "number" ? value : 0;
}

export function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}
