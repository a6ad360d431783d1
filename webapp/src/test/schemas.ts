import type { JsonSchema } from "../api/types";

// The shapes pydantic writes for the bundled pipelines' configs.
export const SCHEMA: JsonSchema = {
  type: "object",
  properties: {
    source: { type: "string", enum: ["sample", "open-meteo"], default: "sample", title: "Source", description: "Where the data comes from." },
    epochs: { type: "integer", minimum: 1, maximum: 100000, default: 10, title: "Epochs", description: "Passes over the training data." },
    learning_rate: { type: "number", exclusiveMinimum: 0, maximum: 10, default: 0.01, title: "Learning Rate" },
    log_target: { type: "boolean", default: false, title: "Log Target" },
    start: { type: "string", format: "date", default: "2010-01-01", title: "Start" },
    mnist_dir: { anyOf: [{ type: "string", minLength: 1 }, { type: "null" }], default: null, title: "Mnist Dir" },
    interval: { anyOf: [{ type: "string", enum: ["1h", "1d"] }, { type: "null" }], default: null, title: "Interval" },
    channels: {
      type: "array",
      items: { type: "integer", minimum: 1, maximum: 256 },
      minItems: 1,
      maxItems: 4,
      default: [8, 16],
      title: "Channels",
    },
    ticker: { type: "string", pattern: "^[A-Z]+$", minLength: 1, maxLength: 24, default: "MSFT", title: "Stock symbol" },
  },
};

// A schema as forge_learner's config_json_schema writes it now: with the form's layout.
export const LAID_OUT_SCHEMA: JsonSchema = {
  type: "object",
  "x-order": ["epochs", "learning_rate", "seed", "lookback", "hidden_size", "start", "end", "test_fraction"],
  "x-groups": ["Training", "Data", "Model", "Split"],
  properties: {
    test_fraction: { type: "number", default: 0.2, title: "Test Fraction", "x-group": "Split", "x-advanced": false },
    end: { type: "string", format: "date", default: "2010-12-31", title: "End", "x-group": "Data", "x-advanced": false },
    start: { type: "string", format: "date", default: "2010-01-01", title: "Start", "x-group": "Data", "x-advanced": false },
    seed: { type: "integer", default: 0, title: "Seed", "x-group": "Training", "x-advanced": true },
    hidden_size: { type: "integer", default: 32, title: "Hidden Size", "x-group": "Model", "x-advanced": false },
    lookback: { type: "integer", default: 24, title: "Lookback", "x-group": "Data", "x-advanced": true },
    learning_rate: { type: "number", default: 0.01, title: "Learning Rate", "x-group": "Training", "x-advanced": false },
    epochs: { type: "integer", default: 10, title: "Epochs", "x-group": "Training", "x-advanced": false },
  },
};
