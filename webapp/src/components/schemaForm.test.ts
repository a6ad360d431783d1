import { describe, expect, it } from "vitest";
import { LAID_OUT_SCHEMA, SCHEMA } from "../test/schemas";
import { fieldsFromSchema, initialValues, sortProblems, toConfig } from "./schemaForm";

describe("fieldsFromSchema", () => {
  const fields = fieldsFromSchema(SCHEMA);
  const byName = Object.fromEntries(fields.map((field) => [field.name, field]));

  it("puts the common training settings first, then the rest by name", () => {
    expect(fields.map((field) => field.name)).toEqual([
      "epochs",
      "learning_rate",
      "channels",
      "interval",
      "log_target",
      "mnist_dir",
      "source",
      "start",
      "ticker",
    ]);
  });

  it("keeps the schema's own order when it carries one (x-order), with each field's group", () => {
    const laidOut = fieldsFromSchema(LAID_OUT_SCHEMA);
    expect(laidOut.map((field) => field.name)).toEqual(LAID_OUT_SCHEMA["x-order"]);
    expect(laidOut.map((field) => [field.group, field.advanced])).toEqual([
      ["Training", false],
      ["Training", false],
      ["Training", true],
      ["Data", true],
      ["Model", false],
      ["Data", false],
      ["Data", false],
      ["Split", false],
    ]);
    expect(fields.every((field) => field.group === "" && !field.advanced)).toBe(true);
  });

  it("knows each field's kind, bounds, choices and whether it may be empty", () => {
    expect(byName.epochs).toMatchObject({ kind: "integer", bounds: "1 to 100000", min: 1, max: 100000, label: "Epochs" });
    expect(byName.learning_rate).toMatchObject({ kind: "number", bounds: "more than 0, at most 10", label: "Learning rate" });
    expect(byName.source).toMatchObject({ kind: "choice", choices: ["sample", "open-meteo"], nullable: false });
    expect(byName.interval).toMatchObject({ kind: "choice", choices: ["1h", "1d"], nullable: true });
    expect(byName.mnist_dir).toMatchObject({ kind: "text", nullable: true, label: "Mnist dir" });
    expect(byName.start).toMatchObject({ kind: "date" });
    expect(byName.log_target).toMatchObject({ kind: "boolean" });
    expect(byName.channels).toMatchObject({ kind: "list", itemKind: "integer", bounds: "1 to 4 values, each 1 to 256" });
    // A title the pipeline chose itself is kept.
    expect(byName.ticker).toMatchObject({ label: "Stock symbol", pattern: "^[A-Z]+$", bounds: "1 to 24 characters" });
  });

  it("starts from the defaults and submits them typed as the schema says", () => {
    const values = initialValues(fields);
    expect(values).toMatchObject({ epochs: "10", channels: "8, 16", mnist_dir: "", log_target: false, interval: "" });
    expect(toConfig(fields, values)).toEqual({
      epochs: 10,
      learning_rate: 0.01,
      channels: [8, 16],
      interval: null,
      log_target: false,
      mnist_dir: null,
      source: "sample",
      start: "2010-01-01",
      ticker: "MSFT",
    });
  });

  it("sends what cannot be read as a number as it was typed, for the server to reject", () => {
    const values = { ...initialValues(fields), epochs: "ten", learning_rate: "0x10", channels: "8, x" };
    expect(toConfig(fields, values)).toMatchObject({ epochs: "ten", learning_rate: "0x10", channels: [8, "x"] });
  });
});

describe("sortProblems", () => {
  const fields = fieldsFromSchema(SCHEMA);

  it("puts each server error by the field it names, without repeating the field's name", () => {
    const sorted = sortProblems(
      [
        { field: "config.epochs", rule: "greater_than_equal", message: "epochs: must be at least 1, got 0" },
        { field: "config.channels.1", rule: "less_than_equal", message: "must be at most 256" },
        { field: "config.colour", rule: "extra_forbidden", message: "unknown setting" },
        { field: "pipeline", rule: "unknown_pipeline", message: "no such pipeline" },
      ],
      fields,
    );
    expect(sorted.byField).toEqual({
      epochs: ["must be at least 1, got 0"],
      channels: ["channels.1: must be at most 256"],
    });
    expect(sorted.general).toEqual(["config.colour: unknown setting", "pipeline: no such pipeline"]);
  });
});
