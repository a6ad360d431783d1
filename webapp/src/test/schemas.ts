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
