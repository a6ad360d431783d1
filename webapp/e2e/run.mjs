// End-to-end test of the web UI against a real stack (`forge up`), in headless Chromium driven
// by playwright-core. It runs as `make e2e` (and as part of `make test`); docs/webapp.md says how.
//
// The steps depend on each other, so they run in order and the first failure stops the run,
// leaving a screenshot and the page's HTML named after the failed step beside the others.
// Every wait is for a condition, with a generous limit: CI machines are small and shared.
//
// Environment: CHROMIUM (default /usr/bin/chromium), E2E_SCREENSHOTS (default
// ../artifacts/screenshots from webapp/), FORGE (default ../.venv/bin/forge).

import { mkdirSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { startStack } from "./stack.mjs";

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

const here = dirname(fileURLToPath(import.meta.url));
const webapp = resolve(here, "..");
const root = resolve(webapp, "..");
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const SHOTS = resolve(process.env.E2E_SCREENSHOTS ?? join(root, "artifacts", "screenshots"));
const FORGE = process.env.FORGE ?? join(root, ".venv", "bin", "forge");
const DIST = join(webapp, "dist");
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-quic",
  "--no-first-run",
  "--disable-component-update",
  "--disable-sync",
];
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
const ADMIN = { username: "admin", password: "e2e-admin-password" };
// A run whose epochs take a second or more even on a fast machine, so the chart is seen growing.
// The hourly sample has ~8,700 rows against the daily observations' ~1,400.
const LIVE_RUN = { epochs: 8, batch_size: 16, hidden_size: 48, source: "sample" };
const SECOND_RUN = { epochs: 3, learning_rate: 0.002, batch_size: 64 };
// The sweep launched from the form: four trials of three epochs, ASHA with η = 2.
const SWEEP = { name: "learning rate and width", epochs: 3, batch_size: 64, trials: 4 };
// What the live run is called at launch, and what it is renamed to on its page.
const LIVE_RUN_NAME = "hourly sample, 48 units";
const LIVE_RUN_RENAMED = "eight epochs, wide";
// A run whose trainer is killed after its second epoch: as slow an epoch as LIVE_RUN's, with
// epochs enough left after the kill to see the resumed attempt train.
const RESUMED_RUN = { epochs: 6, batch_size: 16, hidden_size: 48, learning_rate: 0.002, source: "sample" };
const RESUMES_AFTER = 2;
const ATTEMPTS_TABLE = "Each run of this experiment on a trainer, the first first";
// A trainer sends a resume checkpoint after every epoch, not at most every 10 s, so that a
// trainer killed mid-run has one to resume from (docs/running.md, "Durable runs").
const STACK_ENV = { FORGE_CHECKPOINT_INTERVAL_SECONDS: "0" };
const TIMEOUT = { ui: 30_000, run: 150_000, restart: 60_000 };

const started = Date.now();

function seconds(ms) {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** In the page: whether its first chart shows `epochs` epochs. */
function chartHasPoints(epochs) {
  return document.querySelector("figure.chart")?.getAttribute("data-points") === String(epochs);
}

/** In the page: the epochs each chart's table of numbers lists, in order. */
function chartEpochs() {
  return [...document.querySelectorAll("figure.chart")].map((figure) => ({
    title: figure.querySelector(".chart-title")?.textContent ?? "",
    points: Number(figure.getAttribute("data-points")),
    epochs: [...figure.querySelectorAll(".chart-data tbody th")].map((cell) => Number(cell.textContent)),
  }));
}

/** Sets the new-experiment form's fields to `values`: text boxes filled, choices picked. */
async function fillForm(page, values) {
  for (const [name, value] of Object.entries(values)) {
    const field = page.locator(`[data-field="${name}"]`);
    if ((await field.locator("select").count()) > 0) await field.locator("select").selectOption(String(value));
    else await field.locator("input").fill(String(value));
  }
}

// Presses Tab until the focused element passes `focused` (run in the page with `arg`); a
// keyboard user's path, so it fails if the element cannot be reached that way.
async function tabTo(page, what, focused, arg, limit = 80) {
  for (let presses = 1; presses <= limit; presses += 1) {
    await page.keyboard.press("Tab");
    if (await page.evaluate(focused, arg)) return presses;
  }
  throw new Error(`${what} was not reached within ${limit} presses of Tab`);
}

const focusedField = (label) => {
  const focused = document.activeElement;
  return focused instanceof HTMLInputElement && focused.labels?.[0]?.textContent?.trim() === label;
};
const focusedControl = (name) => document.activeElement?.textContent?.trim() === name;
const weatherChosen = () => {
  const choice = document.querySelector('input[value="weather_forecaster"]');
  return choice instanceof HTMLInputElement && choice.checked;
};
const headingFocused = (text) => document.activeElement?.tagName === "H1" && document.activeElement.textContent.includes(text);

function check(condition, message) {
  if (!condition) throw new Error(message);
}

async function main() {
  check(existsSync(join(DIST, "index.html")), `${DIST} has no build: run \`make webapp-build\` first`);
  check(existsSync(CHROMIUM), `${CHROMIUM} is missing: install Chromium (apt-get install chromium) or set CHROMIUM`);
  check(existsSync(FORGE), `${FORGE} is missing: run \`make install\` first`);
  mkdirSync(SHOTS, { recursive: true });

  /** @type {Awaited<ReturnType<typeof startStack>> | null} */
  let stack = null;
  /** @type {import("playwright-core").Browser | null} */
  let browser = null;
  /** @type {import("playwright-core").Page | null} */
  let current = null;
  const problems = [];
  const step = async (name, body) => {
    const begin = Date.now();
    process.stdout.write(`e2e: ${name} … `);
    try {
      await body();
    } catch (error) {
      console.log("FAILED");
      if (current && !current.isClosed()) {
        const slug = name.replace(/[^a-z0-9]+/gi, "-").toLowerCase();
        await current.screenshot({ path: join(SHOTS, `failed-${slug}.png`), fullPage: true }).catch(() => {});
        writeFileSync(join(SHOTS, `failed-${slug}.html`), await current.content().catch(() => ""));
      }
      throw error;
    }
    const took = Date.now() - begin;
    console.log(`ok (${seconds(took)})`);
  };
  const watch = (page) => {
    page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
    page.on("console", (message) => {
      // A refused request is the browser's note about an answer the page expected (a 401 after
      // the token is made bad on purpose), and a socket refused during the network cut; the page's own
      // errors are what count.
      if (message.type() === "error" && !/Failed to load resource|WebSocket connection to .* failed/.test(message.text())) {
        problems.push(`console error: ${message.text()}`);
      }
    });
    current = page;
    return page;
  };
  // Every page shot is also checked with axe-core (WCAG 2.1 A and AA rules), injected through
  // the DevTools protocol, which the gateway's CSP does not govern; any violation fails the run.
  const axeViolations = [];
  const shot = async (page, name) => {
    await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
    await page.evaluate(AXE_SOURCE);
    const violations = await page.evaluate(async () => {
      const result = await globalThis.axe.run(document, {
        runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] },
      });
      return result.violations.map((v) => `${v.id} (${v.nodes.length}): ${v.nodes.map((n) => n.target.join(" ")).slice(0, 3).join(", ")}`);
    });
    for (const violation of violations) axeViolations.push(`${name}: ${violation}`);
  };

  try {
    await step("start the stack (forge up)", async () => {
      mkdirSync(join(root, "artifacts", "e2e"), { recursive: true });
      stack = await startStack({
        forge: FORGE,
        webappDir: DIST,
        logFile: join(root, "artifacts", "e2e", "stack.log"),
        adminPassword: ADMIN.password,
        cwd: root,
        env: STACK_ENV,
      });
    });
    const url = (path) => `${stack.url}${path}`;

    await step("start Chromium", async () => {
      browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
    });
    const desktop = await browser.newContext({ viewport: DESKTOP, acceptDownloads: true });
    desktop.setDefaultTimeout(TIMEOUT.ui);
    const page = watch(await desktop.newPage());

    await step("a wrong password is refused on the log-in page", async () => {
      await page.goto(url("/experiments"));
      await page.getByRole("heading", { name: "Log in to AzuraForge" }).waitFor();
      await shot(page, "desktop-login");
      await page.getByLabel("Username").fill(ADMIN.username);
      await page.getByLabel("Password").fill("not-the-password");
      await page.getByRole("button", { name: "Log in" }).click();
      await page.getByRole("alert").filter({ hasText: "username or password is not right" }).waitFor();
    });

    await step("log in", async () => {
      await page.getByLabel("Password").fill(ADMIN.password);
      await page.getByRole("button", { name: "Log in" }).click();
      await page.getByRole("heading", { name: "Experiments", level: 1 }).waitFor();
      await page.getByText("No experiments yet").waitFor();
      await page.waitForFunction(() => document.activeElement?.tagName === "H1", null, { timeout: 5000 });
    });

    await step("a bad value in the form shows the server's error next to it", async () => {
      await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "New experiment" }).click();
      await page.getByRole("heading", { name: "New experiment" }).waitFor();
      await page.getByRole("radio", { name: /weather_forecaster/ }).check();
      const epochs = page.getByLabel("Epochs", { exact: true });
      check((await epochs.inputValue()) === "20", "the epochs field does not start at its default, 20");
      await page.getByText("Allowed: 1 to 100000.").first().waitFor();
      await epochs.fill("0");
      await page.getByRole("button", { name: "Launch weather_forecaster" }).click();
      const error = page.locator('[data-field="epochs"] .field-error');
      await error.waitFor();
      const text = await error.innerText();
      check(/at least 1/.test(text), `the error next to epochs does not carry the server's message: ${text}`);
      check((await epochs.getAttribute("aria-invalid")) === "true", "the epochs field is not marked invalid");
      await page.locator(".error-summary").waitFor();
      await shot(page, "desktop-new-experiment-error");
    });

    let liveRunId = "";
    await step("launch the weather forecaster and see its chart gain points while it runs", async () => {
      await fillForm(page, LIVE_RUN);
      const name = page.getByLabel("Name", { exact: true });
      check((await page.locator("form.new-experiment").locator("input, select").first().getAttribute("id")) === "experiment-name", "the Name field is not the form's first");
      await name.fill(LIVE_RUN_NAME);
      await page.getByRole("button", { name: "Launch weather_forecaster" }).click();
      await page.waitForURL(/\/experiments\/[0-9a-f-]{36}$/);
      liveRunId = page.url().split("/").pop();
      // Focus follows the user to the new run's heading, its name, once the page has drawn it.
      await page.waitForFunction(headingFocused, LIVE_RUN_NAME, { timeout: 10000 });
      await page.locator(".run-pipeline").filter({ hasText: "weather_forecaster" }).waitFor();
      await page.evaluate(() => {
        document.documentElement.dataset.e2eLoadedOnce = "yes";
      });
      const growth = await page.waitForFunction(
        () => {
          const status = document.querySelector('[data-testid="experiment-status"] [data-status]')?.getAttribute("data-status");
          const points = Number(document.querySelector("figure.chart")?.getAttribute("data-points") ?? 0);
          if (status !== "running" || points < 1) return false;
          const marks = document.documentElement.dataset;
          marks.e2eFirstPoints ??= String(points);
          const first = Number(marks.e2eFirstPoints);
          return points > first ? { first, later: points } : false;
        },
        null,
        { timeout: TIMEOUT.run, polling: 100 },
      );
      const { first, later } = await growth.jsonValue();
      await shot(page, "desktop-experiment-running");
      const bar = page.getByRole("progressbar", { name: "Training progress" });
      const text = (await bar.getAttribute("aria-valuetext")) ?? "";
      check(new RegExp(`Epoch \\d of ${LIVE_RUN.epochs}`).test(text), `the progress bar does not say the epoch: ${text}`);
      console.log(`(chart went from ${first} to ${later} points while running; progress "${text}") `);
    });

    await step("a network cut shows the paused banner, and it clears once back", async () => {
      await desktop.setOffline(true);
      const banner = page.getByTestId("connection-banner");
      try {
        await banner.waitFor();
        const said = await banner.innerText();
        check(/Live updates paused — last update \d/.test(said), `the banner says: ${said}`);
        await page.getByRole("button", { name: "Retry now" }).waitFor();
        await shot(page, "desktop-experiment-offline");
      } finally {
        await desktop.setOffline(false);
      }
      await banner.waitFor({ state: "detached" });
    });

    await step("the run finishes with its final status, metrics and log, without a reload", async () => {
      await page.locator('[data-testid="experiment-status"] [data-status="succeeded"]').waitFor({ timeout: TIMEOUT.run });
      await page.waitForFunction(chartHasPoints, LIVE_RUN.epochs);
      check(await page.evaluate(() => document.documentElement.dataset.e2eLoadedOnce === "yes"), "the page was reloaded");
      await page.getByRole("table", { name: /Test metrics/ }).getByRole("rowheader", { name: "rmse" }).waitFor();
      await page.getByRole("log", { name: "Training log" }).getByText("weather_forecaster").first().waitFor();
      await shot(page, "desktop-experiment-finished");
    });

    await step("the report tab shows report.md with its plots", async () => {
      await page.getByRole("tab", { name: "Report" }).click();
      await page.locator(".report h1").waitFor();
      await page.waitForFunction(() => {
        const images = [...document.querySelectorAll("img")].filter((image) => image.closest(".report"));
        return images.length > 0 && images.every((image) => image.complete && image.naturalWidth > 0);
      });
      const plots = await page.locator(".report img").count();
      check(plots >= 2, `the report shows ${plots} plot(s)`);
      await shot(page, "desktop-report");
    });

    await step("the files tab downloads an artifact", async () => {
      await page.getByRole("tab", { name: "Files" }).click();
      const [download] = await Promise.all([
        page.waitForEvent("download"),
        page.getByRole("button", { name: "Download metrics.json" }).click(),
      ]);
      check(download.suggestedFilename() === "metrics.json", `downloaded ${download.suggestedFilename()}`);
      const path = await download.path();
      const { readFileSync } = await import("node:fs");
      const metrics = JSON.parse(readFileSync(path, "utf8"));
      check(metrics.pipeline === "weather_forecaster", "metrics.json is not the run's");
    });

    await step("the predict tab forecasts the step after the data, drawn after the series", async () => {
      await page.getByRole("tab", { name: "Predict" }).click();
      await page.getByRole("button", { name: "Forecast the next step" }).click();
      const table = page.getByTestId("forecast-table");
      await table.waitFor({ timeout: TIMEOUT.run });
      const rows = await table.getByRole("row").count();
      check(rows === 2, `the forecast table has ${rows} row(s), not a header and one forecast`);
      const drawn = await page.locator('[data-testid="forecast-chart"] [data-series="history"]').getAttribute("points");
      check((drawn ?? "").split(" ").length >= 24, "the chart does not draw the series' last day");
      await shot(page, "desktop-predict");
    });

    await step("rename the run in place: Escape cancels, Enter saves, focus comes back to Rename", async () => {
      const rename = page.getByRole("button", { name: "Rename" });
      await rename.click();
      const field = page.getByRole("textbox", { name: "Name" });
      await page.waitForFunction(() => document.activeElement?.id === "run-name");
      check((await field.inputValue()) === LIVE_RUN_NAME, "the field does not start with the run's name");
      await page.keyboard.type("not this");
      await page.keyboard.press("Escape");
      await page.getByRole("heading", { level: 1, name: new RegExp(`^${LIVE_RUN_NAME}`) }).waitFor();
      await page.waitForFunction(focusedControl, "Rename");
      await rename.click();
      await field.fill("two\tlines");
      await page.keyboard.press("Enter");
      const refusal = page.getByRole("alert").filter({ hasText: "Not renamed:" });
      await refusal.waitFor();
      check(/control characters/.test(await refusal.innerText()), `the refusal does not say why: ${await refusal.innerText()}`);
      await shot(page, "desktop-rename-refused");
      await field.fill(LIVE_RUN_RENAMED);
      await page.keyboard.press("Enter");
      await page.getByRole("heading", { level: 1, name: new RegExp(`^${LIVE_RUN_RENAMED}`) }).waitFor();
      await page.waitForFunction(focusedControl, "Rename");
      const token = await page.evaluate(() => JSON.parse(sessionStorage.getItem("azuraforge.session")).token);
      const stored = await (await fetch(url(`/api/v1/experiments/${liveRunId}`), { headers: { Authorization: `Bearer ${token}` } })).json();
      check(stored.name === LIVE_RUN_RENAMED, `the gateway says the run is called ${stored.name}`);
    });

    let secondRunId = "";
    await step("the experiments table shows a new run's statuses change live", async () => {
      await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Experiments" }).click();
      await page.locator(`tr[data-experiment="${liveRunId}"]`).waitFor();
      // The status changes come over a socket with no history: it must be open before the run.
      await page.locator('[data-live="open"]').waitFor();
      await page.evaluate(() => {
        document.documentElement.dataset.e2eLoadedOnce = "yes";
      });
      const token = await page.evaluate(() => JSON.parse(sessionStorage.getItem("azuraforge.session")).token);
      const response = await fetch(url("/api/v1/experiments"), {
        method: "POST",
        headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
        body: JSON.stringify({ pipeline: "weather_forecaster", config: SECOND_RUN }),
      });
      check(response.status === 201, `submitting the second run answered ${response.status}`);
      secondRunId = (await response.json()).experiment_id;
      const row = page.locator(`tr[data-experiment="${secondRunId}"]`);
      await row.waitFor({ timeout: TIMEOUT.run });
      await page.locator(`tr[data-experiment="${secondRunId}"][data-status="succeeded"]`).waitFor({ timeout: TIMEOUT.run });
      check(await page.evaluate(() => document.documentElement.dataset.e2eLoadedOnce === "yes"), "the list page was reloaded");
      const named = page.locator(`tr[data-experiment="${liveRunId}"] th`);
      await named.getByRole("link", { name: LIVE_RUN_RENAMED }).waitFor();
      check((await named.innerText()).includes("weather_forecaster"), "the renamed run's row does not name its pipeline");
      await page.getByLabel("Search").fill("eight");
      await page.waitForFunction(() => document.querySelectorAll("tbody tr[data-experiment]").length === 1);
      await page.getByLabel("Search").fill("");
      await page.getByLabel("Status").selectOption("succeeded");
      await page.getByLabel("Search").fill("epochs=3");
      await page.waitForFunction(() => document.querySelectorAll("tbody tr[data-experiment]").length === 1);
      await page.getByLabel("Search").fill("");
      await page.getByLabel("Status").selectOption("");
      await page.waitForFunction(() => document.querySelectorAll("tbody tr[data-experiment]").length === 2);
      await shot(page, "desktop-experiments");
    });

    await step("compare two runs: overlaid curves, config differences, metrics", async () => {
      await page.getByRole("checkbox", { name: `Select ${LIVE_RUN_RENAMED} ${liveRunId.slice(0, 8)} to compare` }).check();
      await page.getByRole("checkbox", { name: new RegExp(`Select weather_forecaster ${secondRunId.slice(0, 8)}`) }).check();
      await page.getByRole("button", { name: "Compare selected (2)" }).click();
      await page.getByRole("heading", { name: "Compare runs" }).waitFor();
      await page.waitForFunction(
        (epochs) => {
          const charts = [...document.querySelectorAll("figure.chart")];
          return charts.length >= 2 && charts[0].getAttribute("data-points") === String(epochs);
        },
        LIVE_RUN.epochs,
      );
      const differing = await page.locator(".config-compare tr[data-differs] th").allInnerTexts();
      const names = differing.map((text) => text.replace(/[≠\s]|\(differs\)/g, ""));
      for (const name of ["epochs", "learning_rate", "batch_size", "hidden_size"]) {
        check(names.includes(name), `the config table does not mark ${name} as differing: ${names}`);
      }
      check(!names.includes("lookback"), "the config table marks lookback, which is the same, as differing");
      await page.locator(".metrics-compare").getByRole("rowheader", { name: "rmse", exact: true }).waitFor();
      await page.locator(".config-compare thead").getByRole("link", { name: `${LIVE_RUN_RENAMED} · ${liveRunId.slice(0, 8)}` }).waitFor();
      await shot(page, "desktop-compare");
    });

    let resumedRunId = "";
    let killedAfter = 0;
    await step(`launch a run and kill its trainer (kill -9) once ${RESUMES_AFTER} epochs are on the chart`, async () => {
      await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "New experiment" }).click();
      await page.getByRole("heading", { name: "New experiment" }).waitFor();
      await page.getByRole("radio", { name: /weather_forecaster/ }).check();
      await fillForm(page, RESUMED_RUN);
      await page.getByRole("button", { name: "Launch weather_forecaster" }).click();
      await page.waitForURL(/\/experiments\/[0-9a-f-]{36}$/);
      resumedRunId = page.url().split("/").pop();
      await page.evaluate(() => {
        document.documentElement.dataset.e2eLoadedOnce = "yes";
      });
      const handle = await page.waitForFunction(
        (least) => {
          const status = document.querySelector('[data-testid="experiment-status"] [data-status]')?.getAttribute("data-status");
          const points = Number(document.querySelector("figure.chart")?.getAttribute("data-points") ?? 0);
          return status === "running" && points >= least ? points : false;
        },
        RESUMES_AFTER,
        { timeout: TIMEOUT.run, polling: 100 },
      );
      killedAfter = await handle.jsonValue();
      check(killedAfter < RESUMED_RUN.epochs, `the run finished its ${killedAfter} epochs before its trainer could be killed`);
      const pid = stack.pidOf("trainer-1");
      process.kill(pid, "SIGKILL");
      const again = await stack.restarted("trainer-1", pid, TIMEOUT.restart);
      console.log(`(killed trainer-1, pid ${pid}, with ${killedAfter} epochs on the chart; forge up restarted it as pid ${again}) `);
    });

    await step("the run page says where the run resumed, and the run succeeds with one point per epoch", async () => {
      const notice = page.getByRole("status").filter({ hasText: /^Resumed on / });
      await notice.waitFor({ timeout: TIMEOUT.run });
      const text = await notice.innerText();
      const resumed = /^Resumed on trainer-1 from the checkpoint after epoch (\d+) \(attempt 2 of \d+\)/.exec(text);
      check(resumed, `the notice does not say it resumed on trainer-1 from a checkpoint, as attempt 2: ${text}`);
      const fromEpoch = Number(resumed[1]);
      // The checkpoint of the epoch that ended as the trainer was killed may have made it too.
      check(fromEpoch >= 1 && fromEpoch <= killedAfter + 1, `resumed after epoch ${fromEpoch}, ${killedAfter} were on the chart`);
      await page.getByRole("log", { name: "Training log" }).getByText(/Resumed on trainer-1/).first().waitFor();
      // A point of the new attempt, so that the screenshot shows the curve go on past the marker.
      await page.waitForFunction(
        (least) => Number(document.querySelector("figure.chart")?.getAttribute("data-points") ?? 0) > least,
        fromEpoch,
        { timeout: TIMEOUT.run, polling: 100 },
      );
      await shot(page, "desktop-experiment-resumed");

      await page.locator('[data-testid="experiment-status"] [data-status="succeeded"]').waitFor({ timeout: TIMEOUT.run });
      await page.waitForFunction(chartHasPoints, RESUMED_RUN.epochs);
      check(await page.evaluate(() => document.documentElement.dataset.e2eLoadedOnce === "yes"), "the page was reloaded");
      const want = Array.from({ length: RESUMED_RUN.epochs }, (_, index) => index + 1).join(",");
      for (const chart of await page.evaluate(chartEpochs)) {
        check(
          chart.points === RESUMED_RUN.epochs && chart.epochs.join(",") === want,
          `the ${chart.title} chart shows ${chart.points} points, epochs ${chart.epochs}, not one per epoch (${want})`,
        );
      }
      const attempts = page.getByRole("table", { name: ATTEMPTS_TABLE });
      await attempts.waitFor();
      // The attempts are fetched again when the run ends, a moment after its status changes.
      await attempts.locator("tbody tr").nth(1).filter({ hasText: "Succeeded" }).waitFor({ timeout: TIMEOUT.run });
      const rows = await attempts.locator("tbody tr").allInnerTexts();
      check(rows.length === 2, `the attempts table lists ${rows.length} attempts:\n${rows.join("\n")}`);
      check(rows[1].includes(`checkpoint after epoch ${fromEpoch}`), `the second attempt does not start from the checkpoint: ${rows[1]}`);
      check(/Succeeded/.test(rows[1]), `the second attempt did not end as the run did: ${rows[1]}`);
      check(!/Still running|Succeeded/.test(rows[0]), `the first attempt does not say why it ended: ${rows[0]}`);
      await page.getByRole("status").filter({ hasText: /^Resumed on / }).waitFor();
      await shot(page, "desktop-experiment-resumed-finished");
      console.log(`(resumed after epoch ${fromEpoch}; "${text}") `);
    });

    await step("an expired token returns to the log-in page with a message", async () => {
      await page.evaluate(() => {
        const session = JSON.parse(sessionStorage.getItem("azuraforge.session"));
        // A token the scheduler no longer accepts, as after it expired or the secret changed.
        session.token = `${session.token.slice(0, -4)}AAAA`;
        sessionStorage.setItem("azuraforge.session", JSON.stringify(session));
      });
      await page.goto(url("/experiments"));
      await page.getByRole("heading", { name: "Log in to AzuraForge" }).waitFor();
      await page.getByText("Your session has expired").waitFor();
      await shot(page, "desktop-login-expired");
      await page.getByLabel("Username").fill(ADMIN.username);
      await page.getByLabel("Password").fill(ADMIN.password);
      await page.getByRole("button", { name: "Log in" }).click();
      await page.getByRole("heading", { name: "Experiments", level: 1 }).waitFor();
    });

    await step("log out", async () => {
      await page.getByRole("button", { name: "Log out" }).click();
      await page.getByText("You have logged out.").waitFor();
    });

    await step("keyboard only: log in, open the form, launch a run; focus lands on each heading", async () => {
      await page.getByText("You have logged out.").waitFor();
      await tabTo(page, "the username field", focusedField, "Username");
      await page.keyboard.type(ADMIN.username);
      await tabTo(page, "the password field", focusedField, "Password");
      await page.keyboard.type(ADMIN.password);
      await page.keyboard.press("Enter");
      await page.waitForFunction(headingFocused, "Experiments", { timeout: 10000 });
      await tabTo(page, "the New experiment link", focusedControl, "New experiment");
      await page.keyboard.press("Enter");
      await page.waitForFunction(headingFocused, "New experiment", { timeout: 10000 });
      await tabTo(page, "a pipeline choice", () => document.activeElement?.getAttribute("name") === "pipeline");
      for (let moves = 0; moves < 5 && !(await page.evaluate(weatherChosen)); moves += 1) {
        await page.keyboard.press("ArrowDown");
      }
      await tabTo(page, "the Epochs field", focusedField, "Epochs");
      await page.keyboard.press("ControlOrMeta+A");
      await page.keyboard.type("2");
      const presses = await tabTo(page, "the Launch button", focusedControl, "Launch weather_forecaster");
      await page.keyboard.press("Enter");
      await page.waitForURL(/\/experiments\/[0-9a-f-]{36}$/);
      await page.waitForFunction(headingFocused, "weather_forecaster", { timeout: 10000 });
      await shot(page, "desktop-keyboard-launched");
      console.log(`(Launch was ${presses} presses of Tab after Epochs) `);
    });

    let sweepId = "";
    await step("launch a sweep from the form: a bad range is named next to it, then the sweep's page fills in live", async () => {
      await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Sweeps" }).click();
      await page.getByRole("heading", { name: "Sweeps", level: 1 }).waitFor();
      await page.getByRole("link", { name: "New sweep" }).click();
      await page.getByRole("heading", { name: "New experiment" }).waitFor();
      check(await page.getByRole("radio", { name: /A sweep/ }).isChecked(), "New sweep does not open the form in Sweep mode");
      await page.getByRole("radio", { name: /weather_forecaster/ }).check();
      await page.getByLabel("Epochs", { exact: true }).fill(String(SWEEP.epochs));
      await page.getByLabel("Batch size", { exact: true }).fill(String(SWEEP.batch_size));
      await page.getByLabel(/Vary Learning rate/).check();
      const from = page.getByLabel("Learning rate: from");
      await from.fill("0");
      await page.getByRole("button", { name: "Launch sweep of weather_forecaster" }).click();
      await page.locator('[data-setting="learning_rate"] .field-error').waitFor();
      check((await from.getAttribute("aria-invalid")) === "true", "the range the server refused is not marked invalid");
      await page.locator(".error-summary").filter({ hasText: "Range of Learning rate" }).waitFor();
      await shot(page, "desktop-new-sweep-error");
      await from.fill("0.001");
      await page.getByLabel("Learning rate: to").fill("0.05");
      await page.getByLabel(/Vary Hidden size/).check();
      await page.getByLabel("Hidden size: how it is drawn").selectOption("choice");
      await page.getByLabel("Hidden size: values, comma-separated").fill("8, 32");
      await page.getByLabel("Trials", { exact: true }).fill(String(SWEEP.trials));
      await page.getByLabel("Reduction factor η").fill("2");
      await page.getByLabel("Name", { exact: true }).fill(SWEEP.name);
      await page.getByRole("button", { name: "Launch sweep of weather_forecaster" }).click();
      await page.waitForURL(/\/sweeps\/[0-9a-f-]{36}$/);
      sweepId = page.url().split("/").pop();
      await page.waitForFunction(headingFocused, SWEEP.name, { timeout: 10000 });
      await page.locator('path[data-best="true"]').waitFor({ timeout: TIMEOUT.run });
      await shot(page, "desktop-sweep-running");
      await page.locator('[data-testid="sweep-status"] [data-status="succeeded"]').waitFor({ timeout: TIMEOUT.run * 2 });
      const rows = await page.locator("#sweep-trials tbody tr").count();
      check(rows === SWEEP.trials, `the sweep page shows ${rows} trials, not ${SWEEP.trials}`);
      // Every trial reaches the first rung (epoch 1 of 3), so each has a decision there.
      const decisions = await page.locator(".decision-list li").count();
      check(decisions >= SWEEP.trials, `the sweep page lists ${decisions} decisions for ${SWEEP.trials} trials`);
      const best = await page.locator("#sweep-trials tr.is-best").getAttribute("data-trial");
      const drawn = await page.locator('path[data-best="true"]').getAttribute("data-trial");
      check(best !== null && best === drawn, `the best trial in the table (${best}) is not the one drawn thick (${drawn})`);
      const budget = await page.locator(".sweep-budget p").first().innerText();
      check(new RegExp(`spent of ${SWEEP.trials * SWEEP.epochs} `).test(budget), `the budget says: ${budget}`);
      await shot(page, "desktop-sweep-finished");
      await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Experiments", exact: true }).click();
      await page.getByRole("link", { name: /^trial \d+ of sweep / }).first().waitFor();
      const links = await page.getByRole("link", { name: /^trial \d+ of sweep / }).count();
      check(links === SWEEP.trials, `the experiments table links ${links} trials to their sweep`);
      console.log(`(${decisions} decisions; ${budget}) `);
    });

    await step("every page at 390×844", async () => {
      const phone = await browser.newContext({ viewport: PHONE, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
      phone.setDefaultTimeout(TIMEOUT.ui);
      const mobile = watch(await phone.newPage());
      await mobile.goto(url("/login"));
      await mobile.getByRole("heading", { name: "Log in to AzuraForge" }).waitFor();
      await shot(mobile, "phone-login");
      await mobile.getByLabel("Username").fill(ADMIN.username);
      await mobile.getByLabel("Password").fill(ADMIN.password);
      await mobile.getByRole("button", { name: "Log in" }).click();
      await mobile.locator(`tr[data-experiment="${secondRunId}"]`).waitFor();
      await shot(mobile, "phone-experiments");
      await mobile.goto(url("/experiments/new?pipeline=weather_forecaster"));
      await mobile.getByLabel("Learning rate").fill("-1");
      await mobile.getByRole("button", { name: "Launch weather_forecaster" }).click();
      await mobile.locator('[data-field="learning_rate"] .field-error').waitFor();
      await shot(mobile, "phone-new-experiment-error");
      await mobile.goto(url(`/experiments/${liveRunId}`));
      await mobile.waitForFunction(chartHasPoints, LIVE_RUN.epochs);
      await shot(mobile, "phone-experiment");
      await mobile.goto(url(`/experiments/${resumedRunId}`));
      await mobile.waitForFunction(chartHasPoints, RESUMED_RUN.epochs);
      await mobile.getByRole("status").filter({ hasText: /^Resumed on / }).waitFor();
      await mobile.getByRole("table", { name: ATTEMPTS_TABLE }).waitFor();
      await shot(mobile, "phone-experiment-resumed");
      const wider = await mobile.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      check(wider <= 0, `the resumed run's page is ${wider} px wider than the phone's screen`);
      await mobile.getByRole("tab", { name: "Report" }).click();
      await mobile.waitForFunction(() => {
        const images = [...document.querySelectorAll("img")].filter((image) => image.closest(".report"));
        return images.length > 0 && images.every((image) => image.complete && image.naturalWidth > 0);
      });
      await shot(mobile, "phone-report");
      await mobile.goto(url(`/compare?ids=${liveRunId},${secondRunId}`));
      await mobile.waitForFunction(chartHasPoints, LIVE_RUN.epochs);
      await shot(mobile, "phone-compare");
      const overflow = await mobile.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      check(overflow <= 0, `the compare page is ${overflow} px wider than the phone's screen`);
      await mobile.goto(url(`/sweeps/${sweepId}`));
      await mobile.locator('path[data-best="true"]').waitFor();
      await shot(mobile, "phone-sweep");
      const sweepWider = await mobile.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      check(sweepWider <= 0, `the sweep page is ${sweepWider} px wider than the phone's screen`);
      await phone.close();
    });

    check(problems.length === 0, `the pages reported errors:\n${problems.join("\n")}`);
    check(axeViolations.length === 0, `axe-core found violations:\n${axeViolations.join("\n")}`);
  } finally {
    await browser?.close().catch(() => {});
    if (stack) await stack.stop();
  }
  console.log(`e2e: passed in ${seconds(Date.now() - started)}; screenshots in ${SHOTS}`);
}

main().then(
  // Node would otherwise wait for idle keep-alive connections to time out.
  () => process.exit(0),
  (error) => {
    console.error(`\ne2e: ${error.stack ?? error}`);
    console.error(`e2e: failed after ${seconds(Date.now() - started)}; screenshots and the failed page in ${SHOTS}`);
    process.exit(1);
  },
);
