/**
 * Reading the gateway's JSON into the messages generated from protos/ (src/gen, `make protos`).
 *
 * Every REST body and WebSocket message is the protobuf JSON form of an `azuraforge.v1`
 * message (docs/api.md#json), so protobuf-es's own JSON reader reads it: both spellings of a
 * field (`epochs_done`, `epochsDone`), enums by name or number, 64-bit integers as numbers or
 * strings, `"NaN"` and `"Infinity"` for doubles. Fields and enum names this build does not know
 * (a newer gateway's) are skipped, so the UI keeps working one release behind. Anything else
 * that does not fit the message is an error naming the message and the field, not a zero.
 */

import { fromJson, type DescMessage, type JsonValue, type MessageShape } from "@bufbuild/protobuf";
import { timestampMs, type Timestamp } from "@bufbuild/protobuf/wkt";

/** The gateway sent something its message's schema does not allow. */
export class MalformedMessage extends Error {
  constructor(
    readonly messageName: string,
    detail: string,
  ) {
    super(`The server sent a malformed ${messageName}: ${detail}`);
    this.name = "MalformedMessage";
  }
}

/** `json` as the message `schema` describes; a `MalformedMessage` when it is not one. */
export function readMessage<Desc extends DescMessage>(schema: Desc, json: unknown): MessageShape<Desc> {
  try {
    return fromJson(schema, json as JsonValue, { ignoreUnknownFields: true });
  } catch (error) {
    throw new MalformedMessage(schema.typeName, error instanceof Error ? error.message : String(error));
  }
}

/** A Timestamp as a Date; null when unset or zero (1970-01-01T00:00:00Z is protobuf's "not set"). */
export function dateOf(timestamp: Timestamp | undefined): Date | null {
  if (timestamp === undefined) return null;
  const ms = timestampMs(timestamp);
  return ms === 0 ? null : new Date(ms);
}

/**
 * A 64-bit integer (`seq`, `size_bytes`) as a number: exact up to 2^53 - 1, which no experiment's
 * event count or file size reaches.
 */
export function numberOf(value: bigint): number {
  return Number(value);
}
