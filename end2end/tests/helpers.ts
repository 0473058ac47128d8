// What the browser tests share: a console of their own per spec file (the `byoc` fixture),
// bringing it to a state through its HTTP API, waiting for hydration, signing in,
// screenshots, and product keys minted with the vendor command line.
//
// Every spec file sets `test.use({ consoleOptions: { name: "<its file name>", … } })`. The
// option is worker-scoped and differs per file, so Playwright gives each file a worker of its
// own, and with it a console of its own: `byoc serve` on a free port with a fresh data
// directory under ../target/e2e/<name>/ (removed first; the console's log stays there as
// console.log) and a vendor key made for it, stopped when the file is done. `baseURL` is that
// console's address. Nothing is shared between files, so any file passes alone and the files
// pass in any order. Tests inside a file may depend on each other (test.describe.serial).
import { test as base, expect, request, type APIRequestContext, type Page } from "@playwright/test";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { e2eDir, kafkaPorts, server, siteRoot } from "../playwright.config";

export { expect };

/** end2end/, which the paths of the config are relative to. */
const end2end = path.resolve(__dirname, "..");
/** The console's program, absolute. */
export const serverBin = path.resolve(end2end, server);

export const admin = { username: "admin", password: "Quiet-Harbor-Lamp-42" };

export type ConsoleOptions = {
  /** The spec file's name without `.spec.ts` (checked): its directory under ../target/e2e,
   * and what makes each file's worker, and so its console, its own. */
  name: string;
  /** `simulated` (default; `--provision-step-ms 400`) or `kafka` (a Kafka cluster of three
   * JVM nodes per instance on the ports of `kafkaPorts`, stopped with the console). */
  provisioner?: "simulated" | "kafka";
  /** The simulated provisioner's time per step (default 400 ms). */
  provisionStepMs?: number;
  /** Also start a marketplace emulator for this console (AWS metering pointed at it, with the
   * emulator's demo credentials in the console's environment; reports every 2 s). */
  marketplace?: boolean;
};

/** A running console of one spec file. */
export type ByocConsole = {
  name: string;
  url: string;
  /** Absolute: the data directory (console.db), the vendor key's directory, the log. */
  dataDir: string;
  vendorDir: string;
  log: string;
  /** The marketplace emulator's address (with `marketplace: true`). */
  emulatorURL?: string;
};

/** A port nobody listens on now. */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.unref();
    probe.on("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const port = (probe.address() as net.AddressInfo).port;
      probe.close(() => resolve(port));
    });
  });
}

function tail(file: string, lines = 30): string {
  try {
    return fs.readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** Waits for the child to exit, at most `ms`; whether it did. */
function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (exited(child)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** Children still running when this worker exits (it was killed, or crashed) get SIGTERM:
 * consoles stop their brokers on it. */
const running = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of running) if (!exited(child)) child.kill("SIGTERM");
});

/** Starts `args` of the console's program with its output appended to `log`, and waits until
 * `readyURL` answers 200. Throws (the child stopped) when it exits first or takes over 60 s. */
async function startProcess(args: string[], env: NodeJS.ProcessEnv, log: string, readyURL: string): Promise<ChildProcess> {
  const out = fs.openSync(log, "a");
  const child = spawn(serverBin, args, { cwd: end2end, env, stdio: ["ignore", out, out] });
  fs.closeSync(out);
  running.add(child);
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (exited(child)) break;
    try {
      const answer = await fetch(readyURL);
      if (answer.status === 200) return child;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const why = exited(child) ? `exited (${child.exitCode ?? child.signalCode})` : "did not answer in 60 s";
  await stopProcess(child, 5_000);
  throw new Error(`${path.basename(serverBin)} ${args[0]} ${why}; its log (${log}):\n${tail(log)}`);
}

/** SIGTERM, then SIGKILL after `graceMs`; waits for the exit. */
async function stopProcess(child: ChildProcess, graceMs: number) {
  if (!exited(child)) {
    child.kill("SIGTERM");
    if (!(await waitExit(child, graceMs))) {
      child.kill("SIGKILL");
      await waitExit(child, 5_000);
    }
  }
  running.delete(child);
}

/** Starts a process that listens on a free port (`args(port)`), trying another port when the
 * one found is taken meanwhile (the process exits before answering). */
async function startOnFreePort(
  args: (port: number) => string[], env: NodeJS.ProcessEnv, log: string, readyPath: string,
): Promise<{ child: ChildProcess; url: string }> {
  for (let attempt = 1; ; attempt++) {
    const url = `http://127.0.0.1:${await freePort()}`;
    try {
      const child = await startProcess(args(Number(new URL(url).port)), env, log, `${url}${readyPath}`);
      return { child, url };
    } catch (error) {
      if (attempt >= 3) throw error;
    }
  }
}

/** Processes whose working directory is under `dir` (the brokers of a console keep theirs in
 * its data directory): their ids. */
function processesUnder(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cwd = fs.readlinkSync(`/proc/${entry}/cwd`);
      if (cwd === dir || cwd.startsWith(dir + path.sep)) pids.push(Number(entry));
    } catch {
      // gone, or not ours to read
    }
  }
  return pids;
}

/** Starts the console (and emulator) of one spec file; stops them when `use` returns. */
async function startConsole(options: ConsoleOptions, use: (c: ByocConsole) => Promise<void>) {
  if (!options.name) {
    throw new Error('set test.use({ consoleOptions: { name: "<this file\'s name>" } }) in the spec file');
  }
  const dir = path.resolve(end2end, e2eDir, options.name);
  fs.rmSync(dir, { recursive: true, force: true });
  const dataDir = path.join(dir, "data");
  const vendorDir = path.join(dir, "vendor");
  const log = path.join(dir, "console.log");
  fs.mkdirSync(dir, { recursive: true });
  execFileSync(serverBin, ["vendor", "keygen", "--out", vendorDir, "--key-id", `e2e-${options.name}`], {
    env: { ...process.env, RUST_LOG: "error" },
    stdio: ["ignore", "ignore", "pipe"],
  });

  const env: NodeJS.ProcessEnv = { ...process.env, LEPTOS_SITE_ROOT: path.resolve(end2end, siteRoot), RUST_LOG: "warn" };
  const flags: string[] = [];
  let emulator: ChildProcess | undefined;
  let emulatorURL: string | undefined;
  const broker = options.provisioner === "kafka";
  if (broker) {
    flags.push("--provisioner", "kafka", "--kafka-ports", kafkaPorts, "--stop-brokers-on-exit");
  } else {
    flags.push("--provisioner", "simulated", "--provision-step-ms", String(options.provisionStepMs ?? 400));
  }
  let child: ChildProcess | undefined;
  try {
    if (options.marketplace) {
      const started = await startOnFreePort(
        (port) => ["marketplace-emulator", "--listen", `127.0.0.1:${port}`],
        { ...process.env, RUST_LOG: "warn" }, path.join(dir, "emulator.log"), "/_emulator/billed",
      );
      emulator = started.child;
      emulatorURL = started.url;
      flags.push("--marketplace-aws-endpoint", emulatorURL, "--marketplace-aws-region", "us-east-1", "--marketplace-report-seconds", "2");
      // The host's AWS credentials, the standard way: the emulator's demo key.
      Object.assign(env, {
        AWS_ACCESS_KEY_ID: "AKIAEMULATORDEMO0001",
        AWS_SECRET_ACCESS_KEY: "emulator/demo/Secret/Key/0000000000000001",
        // Role-style (temporary) credentials: a long-term key is refused at the link.
        AWS_SESSION_TOKEN: "emulator-demo-session-token",
        AWS_EC2_METADATA_DISABLED: "true",
      });
    }
    const started = await startOnFreePort(
      (port) => [
        "serve", "--listen", `127.0.0.1:${port}`, "--data-dir", dataDir,
        "--trust-key", path.join(vendorDir, "public-key.json"), ...flags,
      ],
      env, log, "/healthz",
    );
    child = started.child;
    await use({ name: options.name, url: started.url, dataDir, vendorDir, log, emulatorURL });
  } finally {
    // Brokers outlive a console that is killed; stopped with SIGTERM, it takes them with it.
    // A cluster's controlled shutdown: up to 30 s per node, the three at once.
    if (child) await stopProcess(child, broker ? 60_000 : 10_000);
    if (emulator) await stopProcess(emulator, 10_000);
    const left = processesUnder(dataDir);
    if (left.length) {
      for (const pid of left) process.kill(pid, "SIGKILL");
      throw new Error(`processes left running by the console of ${options.name} (killed): ${left.join(", ")}`);
    }
  }
}

export const test = base.extend<{ _consolePerFile: void }, { consoleOptions: ConsoleOptions; byoc: ByocConsole }>({
  consoleOptions: [{ name: "" }, { option: true, scope: "worker" }],
  byoc: [async ({ consoleOptions }, use) => startConsole(consoleOptions, use), { scope: "worker", timeout: 120_000 }],
  baseURL: async ({ byoc }, use) => use(byoc.url),
  // The console is the file's own: its name must be the file's (a file without it would share
  // a worker, and a console, with another). A failed test gets the console's log attached.
  _consolePerFile: [async ({ consoleOptions }, use, testInfo) => {
    const file = path.basename(testInfo.file).replace(/\.spec\.ts$/, "");
    if (consoleOptions.name !== file) {
      throw new Error(`consoleOptions.name is "${consoleOptions.name}"; in ${file}.spec.ts it must be "${file}"`);
    }
    await use();
    if (testInfo.status !== testInfo.expectedStatus) {
      const log = path.resolve(end2end, e2eDir, file, "console.log");
      if (fs.existsSync(log)) await testInfo.attach("console.log", { body: fs.readFileSync(log), contentType: "text/plain" });
    }
  }, { auto: true }],
});

/** Waits until the WASM has hydrated the page (the hydrate() entry has run). */
export async function hydrated(page: Page) {
  await page.waitForFunction(() => (window as any).__BYOC_HYDRATED__ === true);
}

export async function signIn(page: Page, username = admin.username, password = admin.password) {
  await page.goto("/login");
  await hydrated(page);
  await page.getByLabel("User name").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL((url) => url.pathname !== "/login");
}

export async function shot(page: Page, name: string) {
  await page.screenshot({ path: `screenshots/${name}.png`, fullPage: true });
}

/** A product key from the vendor command line, signed with the key in `vendorDir`, as the
 * vendor would send it. */
export function mintKey(vendorDir: string, installationId: string, args: string[]): string {
  const out = execFileSync(
    serverBin,
    [
      "vendor", "issue",
      "--signing-key", path.resolve(end2end, vendorDir, "signing-key.json"),
      "--installation-id", installationId,
      "--customer", "Acme Streaming",
      ...args,
    ],
    { encoding: "utf8", env: { ...process.env, RUST_LOG: "error" } },
  );
  const lines = out.trim().split("\n");
  return lines[lines.length - 1];
}

// Preconditions through the HTTP API, for what a file needs but does not test (the pages
// that do these things are tested in their own files). Requests without Origin or
// Sec-Fetch-Site are not a browser's, so the cross-site check lets them through.

/** POSTs a form to /api/<endpoint>; fails the test unless it answers 200. The answer's JSON. */
export async function call(api: APIRequestContext, endpoint: string, form: Record<string, string> = {}): Promise<any> {
  const answer = await api.post(`/api/${endpoint}`, { form, headers: { accept: "application/json" } });
  const text = await answer.text();
  expect(answer.status(), `/api/${endpoint}: ${text}`).toBe(200);
  return text ? JSON.parse(text) : null;
}

/** First-run setup as 01-foundation.spec.ts does it in the browser: the administrator
 * `admin`, the environment "Production" on AWS in eu-central-1 (unless `fields` say
 * otherwise). */
export async function setUp(byoc: ByocConsole, fields: Record<string, string> = {}) {
  const api = await request.newContext({ baseURL: byoc.url });
  try {
    await call(api, "setup", {
      username: admin.username, password: admin.password, password_confirm: admin.password,
      environment_name: "Production", cloud_provider: "aws", region: "eu-central-1",
      ...fields,
    });
  } finally {
    await api.dispose();
  }
}

/** Runs `steps` signed in as `username` (admin by default) through the API. */
export async function asUser<T>(byoc: ByocConsole, steps: (api: APIRequestContext) => Promise<T>, username = admin.username, password = admin.password): Promise<T> {
  const api = await request.newContext({ baseURL: byoc.url });
  try {
    await call(api, "login", { username, password });
    return await steps(api);
  } finally {
    await api.dispose();
  }
}

/** Applies a key minted for this installation with `args` of `vendor issue` (e.g.
 * ["--billing", "prepaid", "--aku", "300", "--months", "24"]), as the admin. The
 * installation's ID. */
export async function activate(byoc: ByocConsole, args: string[]): Promise<string> {
  return asUser(byoc, async (api) => {
    const { installation_id: installationId } = await call(api, "activation");
    await call(api, "license_apply", { key: mintKey(byoc.vendorDir, installationId, args) });
    return installationId;
  });
}

/** Creates an instance through the API as the create form would (one zone in eu-central-1,
 * SASL/SCRAM over TLS inside the VPC, unless `fields` say otherwise), as the admin, and waits
 * until it is running. Its id. */
export async function createInstance(byoc: ByocConsole, fields: Record<string, string>): Promise<number> {
  return asUser(byoc, async (api) => {
    const id: number = await call(api, "instance_create", {
      name: "orders", description: "", kafka_version: "3.9.0", deployment: "single_zone",
      vpc_id: "vpc-0a1b2c3d", subnet_1: "subnet-0000aaaa", data_bucket: "acme-kafka-data",
      wal_mode: "block_volume", client_auth: "sasl_scram", transit_encryption: "tls",
      endpoint_exposure: "vpc", tags: "", size_aku: "5",
      ...fields,
    });
    await expect
      .poll(async () => (await call(api, "instance", { id: String(id) })).summary.state, { timeout: 30_000 })
      .toBe("running");
    return id;
  });
}

/** Creates the user `username` with `role` as the admin, through the API as the users page
 * would, and has them choose `password` at their first sign-in (as the account page would), so
 * that `signIn(page, username, password)` lands where a user who has done that lands. */
export async function createUser(byoc: ByocConsole, username: string, role: "admin" | "operator" | "viewer", password: string) {
  const initial = "Initial-Slate-Window-17";
  await asUser(byoc, (api) => call(api, "user_create", { username, role, password: initial, password_confirm: initial }));
  await asUser(byoc, (api) => call(api, "password_change", {
    current_password: initial, new_password: password, new_password_confirm: password,
  }), username, initial);
}

/** Creates a service account through the API as the service accounts page would, as the admin
 * (`role` operator unless said; no expiry). Its bearer token, which is shown only this once. */
export async function createServiceAccount(byoc: ByocConsole, name: string, role: "admin" | "operator" | "viewer" = "operator"): Promise<string> {
  return asUser(byoc, async (api) => (await call(api, "service_account_create", { name, role, expires: "" })).token);
}
