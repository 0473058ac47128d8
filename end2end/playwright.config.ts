// Browser tests against a console built by scripts/build.sh --debug. Every spec file starts a
// console of its own (tests/helpers.ts: a fresh data directory, a free port, a vendor key of
// its own) and brings it to the state it needs itself, so each file passes alone and in any
// order. Debian's Chromium: Playwright's own browser download cannot work on machines without
// access to its servers.
import { defineConfig } from "@playwright/test";

// Relative paths are taken from this directory (end2end/).
export const server = process.env.E2E_SERVER_BIN ?? "../target/debug/byoc-console";
// The site (WASM, JS, CSS) the consoles serve.
export const siteRoot = process.env.LEPTOS_SITE_ROOT ?? "../target/site";
// Where each file's console keeps its data, vendor key and log: <e2eDir>/<file name>/.
export const e2eDir = process.env.E2E_DIR ?? "../target/e2e";
// The ports of the Kafka clusters behind instances of the console of 07-broker.spec.ts (48
// per instance).
export const kafkaPorts = process.env.E2E_KAFKA_PORTS ?? "21800-21999";
// The AWS listing of the marketplace emulator (its demo product), for 08-marketplace.spec.ts.
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
});
