// The real AzuraForge stack for the end-to-end test: `forge up` in a fresh data folder, on free
// ports, serving this build of the web UI. Nothing is faked: NATS, the scheduler, a trainer and
// the gateway all run as a user runs them. `stop()` ends the whole process group, Ctrl-C first.
// `pidOf(name)` is the pid forge up last gave a service ("started trainer-1 (pid N)", or
// "restarted …" after its supervisor brought it back), so a test can kill it as a fault would.

import { spawn } from "node:child_process";
import { createWriteStream, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

// forge up's own limit for a service to become ready on a slow, busy machine.
const READY_TIMEOUT_MS = 180_000;
const STOP_TIMEOUT_MS = 30_000;
const UP_LINE = /AzuraForge is up/;
// forge up's note when it starts a service, and when it starts one that died again.
const PID_LINE = /^up +\| (?:started|restarted) (\S+) \(pid (\d+)\)\s*$/;
// Colour codes, should forge up ever print them to a pipe.
const ANSI = /\x1b\[[0-9;]*m/g;

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
 * @param {{ forge: string, webappDir: string, logFile: string, adminPassword: string, cwd: string,
 *   env?: Record<string, string> }} options `env`: more settings for every service
 */
export async function startStack({ forge, webappDir, logFile, adminPassword, cwd, env: extra = {} }) {
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
    ...extra,
  });
  const log = createWriteStream(logFile);
  const child = spawn(
    forge,
    ["up", "--trainers", "1", "--scheduler-port", String(schedulerPort), "--gateway-port", String(gatewayPort)],
    { cwd, env, detached: true, stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  let exited = null;
  /** @type {Map<string, number>} */
  const pids = new Map();
  /** @type {Set<() => void>} */
  const pidWaiters = new Set();
  // Whole lines of one stream, for the pid notes; a chunk may end mid-line.
  const lineReader = () => {
    let partial = "";
    return (text) => {
      const lines = (partial + text).split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) {
        const match = PID_LINE.exec(line.replace(ANSI, ""));
        if (match) {
          pids.set(match[1], Number(match[2]));
          for (const wake of pidWaiters) wake();
        }
      }
    };
  };
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`forge up was not up after ${READY_TIMEOUT_MS / 1000} s; its log is ${logFile}`)),
      READY_TIMEOUT_MS,
    );
    const onData = (readLines) => (chunk) => {
      const text = chunk.toString();
      log.write(text);
      readLines(text);
      output = (output + text).slice(-20_000);
      if (UP_LINE.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on("data", onData(lineReader()));
    child.stderr.on("data", onData(lineReader()));
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
  /** The pid forge up last started `name` with (a service such as "trainer-1"). */
  const pidOf = (name) => {
    const pid = pids.get(name);
    if (pid === undefined) throw new Error(`forge up has not said which pid ${name} has; its log is ${logFile}`);
    return pid;
  };

  /** Resolve once forge up has started `name` again with a pid other than `pid`. */
  const restarted = (name, pid, timeoutMs) =>
    new Promise((resolve, reject) => {
      const done = () => {
        const now = pids.get(name);
        if (now === undefined || now === pid) return;
        clearTimeout(timer);
        pidWaiters.delete(done);
        resolve(now);
      };
      const timer = setTimeout(() => {
        pidWaiters.delete(done);
        reject(new Error(`forge up did not restart ${name} within ${timeoutMs / 1000} s; its log is ${logFile}`));
      }, timeoutMs);
      pidWaiters.add(done);
      done();
    });

  return { url: `http://127.0.0.1:${gatewayPort}`, stop, dataDir, pidOf, restarted };
}

function signalGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is gone already.
  }
}
