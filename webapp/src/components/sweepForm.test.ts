import { describe, expect, it } from "vitest";
import { LAID_OUT_SCHEMA, SCHEMA } from "../test/schemas";
import { fieldsFromSchema, initialValues } from "./schemaForm";
import { defaultRange, initialSweepDraft, sortSweepProblems, sweepRequest, variableFields } from "./sweepForm";

const fields = fieldsFromSchema(SCHEMA);
const field = (name: string) => fields.find((item) => item.name === name)!;

describe("the sweep form's rules", () => {
  it("offers the numbers, choices and switches, never epochs", () => {
    expect(variableFields(fields).map((item) => item.name)).toEqual(["learning_rate", "interval", "log_target", "source"]);
  });

  it("starts each range from the schema: a decade either side of a positive number, half to twice an integer, every choice", () => {
    expect(defaultRange(field("learning_rate"))).toMatchObject({ kind: "loguniform", low: "0.001", high: "0.1" });
    expect(defaultRange(field("source"))).toMatchObject({ kind: "choice", values: "sample, open-meteo" });
    expect(defaultRange(field("log_target"))).toMatchObject({ kind: "choice", values: "true, false" });
    const hidden = fieldsFromSchema(LAID_OUT_SCHEMA).find((item) => item.name === "hidden_size")!;
    expect(defaultRange(hidden)).toMatchObject({ kind: "int", low: "16", high: "64", values: "16, 32, 64" });
    const bounded = { ...field("learning_rate"), defaultValue: 5 };
    expect(defaultRange(bounded)).toMatchObject({ kind: "loguniform", low: "0.5", high: "10" });
    const signed = { ...field("learning_rate"), defaultValue: 0, min: -1, max: 1 };
    expect(defaultRange(signed)).toMatchObject({ kind: "uniform", low: "-1", high: "1" });
  });

  it("builds the request: the base config without the varied settings, the space typed, ASHA or none", () => {
    const draft = initialSweepDraft(fields);
    draft.ranges.learning_rate = { ...draft.ranges.learning_rate!, vary: true };
    draft.ranges.log_target = { ...draft.ranges.log_target!, vary: true };
    const body = sweepRequest("weather_forecaster", fields, initialValues(fields), draft, " ");
    expect(body).toEqual({
      pipeline: "weather_forecaster",
      config: expect.not.objectContaining({ learning_rate: expect.anything() }),
      space: { learning_rate: { loguniform: [0.001, 0.1] }, log_target: { choice: [true, false] } },
      search: "random",
      seed: 0,
      max_trials: 9,
      parallelism: 2,
      objective: { metric: "val_loss", mode: "min" },
      early_stopping: { asha: { grace_epochs: 1, reduction_factor: 3 } },
    });
    expect(body.config).toMatchObject({ epochs: 10, source: "sample" });
    expect("log_target" in body.config).toBe(false);
    const plain = sweepRequest("weather_forecaster", fields, initialValues(fields), { ...draft, asha: false, trials: "many" }, "lr");
    expect(plain).toMatchObject({ early_stopping: {}, max_trials: "many", name: "lr" });
  });

  it("sorts the server's complaints next to the inputs they name", () => {
    const sorted = sortSweepProblems(
      [
        { field: "space.learning_rate", rule: "bounds", message: "learning_rate: loguniform needs 0 < lo < hi" },
        { field: "max_trials", rule: "min", message: "max_trials: must be at least 1" },
        { field: "early_stopping.asha.reduction_factor", rule: "min", message: "must be at least 2" },
        { field: "config.epochs", rule: "min", message: "epochs: must be at least 1" },
        { field: "name", rule: "length", message: "name: is too long" },
        { field: "space.hidden_size", rule: "unknown", message: "is not a setting of this pipeline" },
      ],
      fields,
      ["learning_rate"],
    );
    expect(sorted.space).toEqual({ learning_rate: ["loguniform needs 0 < lo < hi"] });
    expect(sorted.sweep).toEqual({ "sweep-trials": ["must be at least 1"], "sweep-eta": ["must be at least 2"] });
    expect(sorted.config.byField).toEqual({ epochs: ["must be at least 1"] });
    expect(sorted.name).toEqual(["is too long"]);
    expect(sorted.config.general).toEqual(["space.hidden_size: is not a setting of this pipeline"]);
  });
});
