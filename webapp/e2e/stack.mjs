// The real AzuraForge stack for the end-to-end test: `forge up` in a fresh data folder, on free
// ports, serving this build of the web UI. Nothing is faked: NATS, the scheduler, a trainer and
// the gateway all run as a user runs them. `stop()` ends the whole process group, Ctrl-C first.

import { spawn } from "node:child_process";
import { createWriteStream, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

// forge up's own limit for a service to become ready on a slow, busy machine.
const READY_TIMEOUT_MS = 180_000;
const STOP_TIMEOUT_MS = 30_000;
const UP_LINE = /AzuraForge is up/;

/** A TCP port nothing listens on right now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

/**
 * Start `forge up` and resolve once it says it is up.
 * @param {{ forge: string, webappDir: string, logFile: string, adminPassword: string, cwd: string }} options
 */
export async function startStack({ forge, webappDir, logFile, adminPassword, cwd }) {
  const dataDir = mkdtempSync(join(tmpdir(), "forge-e2e-"));
  const [schedulerPort, gatewayPort] = [await freePort(), await freePort()];
  const env = { ...process.env };
  // A new user's environment: nothing pointing at another stack, database or login.
  for (const name of Object.keys(env)) if (name.startsWith("FORGE_")) delete env[name];
  Object.assign(env, {
    FORGE_DATA_DIR: dataDir,
    FORGE_ADMIN_PASSWORD: adminPassword,
    FORGE_WEBAPP_DIR: webappDir,
    // On a small shared machine OpenBLAS's second thread slows the LSTM down (docs/apps.md).
    OPENBLAS_NUM_THREADS: "1",
    PYTHONUNBUFFERED: "1",
  });
  const log = createWriteStream(logFile);
  const child = spawn(
    forge,
    ["up", "--trainers", "1", "--scheduler-port", String(schedulerPort), "--gateway-port", String(gatewayPort)],
    { cwd, env, detached: true, stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  let exited = null;
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`forge up was not up after ${READY_TIMEOUT_MS / 1000} s; its log is ${logFile}`)),
      READY_TIMEOUT_MS,
    );
    const onData = (chunk) => {
      const text = chunk.toString();
      log.write(text);
      output = (output + text).slice(-20_000);
      if (UP_LINE.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("exit", (code, signal) => {
      exited = { code, signal };
      clearTimeout(timer);
      reject(new Error(`forge up exited (${code ?? signal}) before it was up:\n${output.slice(-3000)}`));
    });
  });

  const stop = async () => {
    if (exited === null) {
      const gone = new Promise((resolve) => child.once("exit", resolve));
      signalGroup(child.pid, "SIGINT");
      const timeout = new Promise((resolve) => setTimeout(() => resolve("timeout"), STOP_TIMEOUT_MS));
      if ((await Promise.race([gone, timeout])) === "timeout") signalGroup(child.pid, "SIGKILL");
    }
    // Whatever is left of the group (a trainer's job process) goes too.
    signalGroup(child.pid, "SIGKILL");
    log.end();
    rmSync(dataDir, { recursive: true, force: true });
  };

  try {
    await ready;
  } catch (error) {
    await stop();
    throw error;
  }
  return { url: `http://127.0.0.1:${gatewayPort}`, stop, dataDir };
}

function signalGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is gone already.
  }
}
