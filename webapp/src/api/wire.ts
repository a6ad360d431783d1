/**
 * Reading the gateway's JSON at the edge, once, into the typed values the UI uses.
 *
 * The gateway sends the protobuf JSON form of each message. Protobuf allows two spellings of a
 * field (`epochs_done` as the .proto writes it, `epochsDone` as its JSON mapping does), 64-bit
 * integers as strings or numbers, and doubles as `"NaN"` or `"Infinity"`; every reader here
 * accepts all of them, so nothing past this module has to care. Map fields (`metrics`,
 * `config`) keep their keys exactly as sent: `val_loss` is a metric's name, not a field's.
 */

export type Json = Record<string, unknown>;

function camelCase(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_match, letter: string) => letter.toUpperCase());
}

/** The value of the field `name` (written as in the .proto) in either spelling. */
export function field(raw: Json, name: string): unknown {
  if (name in raw) return raw[name];
  return raw[camelCase(name)];
}

export function asObject(value: unknown): Json {
  return value !== null && typeof value === "object" && !Array.isArray(value)
    ? (value as Json)
    : {};
}

export function asString(value: unknown): string {
  return typeof value === "string" ? value : "";
}

export function asNumber(value: unknown): number {
  if (typeof value === "number") return value;
  if (typeof value === "string" && value.trim() !== "") {
    const parsed = Number(value);
    return Number.isNaN(parsed) && value !== "NaN" ? 0 : parsed;
  }
  return 0;
}

export function asTime(value: unknown): Date | null {
  if (typeof value !== "string" || value === "") return null;
  const time = new Date(value);
  // The zero Timestamp (1970-01-01T00:00:00Z) is protobuf's "not set".
  return Number.isNaN(time.getTime()) || time.getTime() === 0 ? null : time;
}

/** A `map<string, double>`: every value a number, `"NaN"`/`"Infinity"` included. */
export function asNumberMap(value: unknown): Record<string, number> {
  const result: Record<string, number> = {};
  for (const [key, item] of Object.entries(asObject(value))) {
    if (typeof item === "number" || typeof item === "string") result[key] = asNumber(item);
  }
  return result;
}

/** A map of `Scores` messages (`{"persistence": {"values": {"mae": 1.2}}}`) as name → metrics. */
export function asScoresMap(value: unknown): Record<string, Record<string, number>> {
  const result: Record<string, Record<string, number>> = {};
  for (const [name, scores] of Object.entries(asObject(value))) {
    result[name] = asNumberMap(field(asObject(scores), "values"));
  }
  return result;
}

export function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}
