// Browser tests against a console built by scripts/build.sh --debug and started here on a
// fresh data directory. Debian's Chromium: Playwright's own browser download cannot work on
// machines without access to its servers.
import { defineConfig } from "@playwright/test";

const port = Number(process.env.E2E_PORT ?? 18080);
export const baseURL = `http://127.0.0.1:${port}`;
export const dataDir = process.env.E2E_DATA_DIR ?? "../target/e2e-data";
export const server = process.env.E2E_SERVER_BIN ?? "../target/debug/byoc-console";
// A vendor signing key made for this run; the console trusts its public half at run time.
export const vendorDir = process.env.E2E_VENDOR_DIR ?? "../target/e2e-vendor";
// A second console with the real broker provisioner (a nisshi process per instance), for
// 07-broker.spec.ts; its own data directory, vendor key and broker ports.
const brokerPort = Number(process.env.E2E_BROKER_CONSOLE_PORT ?? 18081);
export const brokerURL = `http://127.0.0.1:${brokerPort}`;
export const brokerDataDir = "../target/e2e-broker-data";
export const brokerVendorDir = "../target/e2e-broker-vendor";
const brokerBin = process.env.BYOC_BROKER_BIN ?? `${process.env.HOME}/.cargo/bin/nisshi`;
// The marketplace emulator (AWS Marketplace Metering and Alibaba Cloud Compute Nest, with its
// demo credentials) that the first console reports to, for 08-marketplace.spec.ts.
const emulatorPort = Number(process.env.E2E_EMULATOR_PORT ?? 18090);
export const emulatorURL = `http://127.0.0.1:${emulatorPort}`;
export const emulatorProduct = "demo0byoc0kafka0console01";

export default defineConfig({
  testDir: "./tests",
  timeout: 60_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [["list"], ["json", { outputFile: "test-results/results.json" }]],
  outputDir: "test-results",
  use: {
    baseURL,
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    },
  },
  webServer: [{
    command: `${server} marketplace-emulator --listen 127.0.0.1:${emulatorPort}`,
    cwd: __dirname,
    env: { RUST_LOG: "warn" },
    url: `${emulatorURL}/_emulator/billed`,
    timeout: 60_000,
    reuseExistingServer: false,
    stdout: "pipe",
    stderr: "pipe",
  }, {
    // A fresh data directory for every run; the site (WASM, CSS) comes from ../target/site.
    command:
      `rm -rf ${dataDir} ${vendorDir} && ${server} vendor keygen --out ${vendorDir} --key-id e2e-vendor && ` +
      `${server} serve --listen 127.0.0.1:${port} --data-dir ${dataDir} --trust-key ${vendorDir}/public-key.json --provision-step-ms 400 --provisioner simulated ` +
      `--marketplace-aws-endpoint ${emulatorURL} --marketplace-aws-region us-east-1 --marketplace-report-seconds 2`,
    cwd: __dirname,
    // The host's AWS credentials, the standard way: the emulator's demo key.
    env: {
      LEPTOS_SITE_ROOT: "../target/site",
      RUST_LOG: "warn",
      AWS_ACCESS_KEY_ID: "AKIAEMULATORDEMO0001",
      AWS_SECRET_ACCESS_KEY: "emulator/demo/Secret/Key/0000000000000001",
      AWS_EC2_METADATA_DISABLED: "true",
    },
    url: `${baseURL}/healthz`,
    timeout: 60_000,
    reuseExistingServer: false,
    stdout: "pipe",
    stderr: "pipe",
  }, {
    command:
      `rm -rf ${brokerDataDir} ${brokerVendorDir} && ${server} vendor keygen --out ${brokerVendorDir} --key-id e2e-broker-vendor && ` +
      `${server} serve --listen 127.0.0.1:${brokerPort} --data-dir ${brokerDataDir} --trust-key ${brokerVendorDir}/public-key.json ` +
      `--provisioner broker --broker-bin ${brokerBin} --broker-ports 19660-19679 --stop-brokers-on-exit`,
    cwd: __dirname,
    env: { LEPTOS_SITE_ROOT: "../target/site", RUST_LOG: "warn" },
    url: `${brokerURL}/healthz`,
    // Brokers outlive a console that is killed; stopped this way, it takes them with it.
    gracefulShutdown: { signal: "SIGTERM", timeout: 20_000 },
    timeout: 60_000,
    reuseExistingServer: false,
    stdout: "pipe",
    stderr: "pipe",
  }],
});
