// First load in Chromium (Debian's, headless) on loopback: how long until a page is
// interactive (the WASM has hydrated it: the hydrate() entry sets __BYOC_HYDRATED__), and
// how many bytes it took. Each load is a fresh browser context, so nothing is cached.
// Usage: node end2end/bench/first-load.mjs BASE_URL USER PASSWORD [LOADS [PATH...]]
// (FIRST_LOAD_LATENCY_MS=40: each request's answer delayed as over a network)
// (each PATH: one more signed-in page to load, e.g. an instance's page)
// Prints one line per page: median and worst of LOADS loads, and the first download: the
// scripts and WASM modules the page fetched, summed over their gzip -9 copies in the site
// (target/site/pkg, or SITE_PKG), the figure issue #18 sets its goal in. A benchmark, not a test.
import { chromium } from "@playwright/test";
import { statSync } from "node:fs";
import { join } from "node:path";

const pkgDir = process.env.SITE_PKG ?? join(import.meta.dirname, "..", "..", "target", "site", "pkg");
const sizeOf = (file) => { try { return statSync(join(pkgDir, file)).size; } catch { return NaN; } };

const [base, username, password, loadsArg, ...extraPaths] = process.argv.slice(2);
const loads = Number(loadsArg ?? 7);
// FIRST_LOAD_LATENCY_MS: a round trip's latency to emulate (loopback has none), e.g. 40.
const latencyMs = Number(process.env.FIRST_LOAD_LATENCY_MS ?? 0);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"],
});

// Signed in once through the page; each signed-in load starts from that session cookie only.
const signIn = await browser.newContext();
const form = await signIn.newPage();
await form.goto(base + "/login");
await form.waitForFunction(() => window.__BYOC_HYDRATED__ === true);
await form.getByLabel("User name").fill(username);
await form.getByLabel("Password").fill(password);
await form.getByRole("button", { name: "Sign in" }).click();
await form.waitForURL((url) => url.pathname !== "/login");
const session = { cookies: (await signIn.storageState()).cookies, origins: [] };
await signIn.close();

async function once(path, signedIn) {
  const context = await browser.newContext(signedIn ? { storageState: session } : {});
  // The moment the flag is set, from the navigation's start (performance.now()).
  await context.addInitScript(() => {
    let flag;
    Object.defineProperty(window, "__BYOC_HYDRATED__", {
      configurable: true,
      get: () => flag,
      set: (v) => { flag = v; window.__byocHydratedAt = performance.now(); },
    });
  });
  const page = await context.newPage();
  if (latencyMs > 0) {
    // Chromium's own network emulation: each request waits this long before its answer.
    const cdp = await context.newCDPSession(page);
    await cdp.send("Network.emulateNetworkConditions", {
      offline: false, latency: latencyMs, downloadThroughput: -1, uploadThroughput: -1,
    });
  }
  await page.goto(base + path);
  await page.waitForFunction(() => window.__byocHydratedAt !== undefined);
  const figures = await page.evaluate(() => {
    const nav = performance.getEntriesByType("navigation")[0];
    const resources = performance.getEntriesByType("resource");
    const bytes = nav.transferSize + resources.reduce((sum, r) => sum + r.transferSize, 0);
    const code = resources
      .map((r) => new URL(r.name).pathname)
      .filter((p) => p.startsWith("/pkg/") && /\.(js|wasm)$/.test(p))
      .map((p) => p.slice("/pkg/".length));
    return { interactive: window.__byocHydratedAt, html: nav.responseEnd, bytes, code };
  });
  await context.close();
  return figures;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const pages = [["/login", false], ["/", true], ["/instances", true], ["/license", true]];
for (const [path, signedIn] of [...pages, ...extraPaths.map((p) => [p, true])]) {
  const runs = [];
  for (let i = 0; i < loads; i++) runs.push(await once(path, signedIn));
  const interactive = runs.map((r) => r.interactive);
  const code = [...new Set(runs[0].code)];
  const gzip = code.reduce((sum, f) => sum + sizeOf(f + ".gz"), 0);
  const raw = code.reduce((sum, f) => sum + sizeOf(f), 0);
  console.log(
    `  ${path.padEnd(13)} interactive after median ${median(interactive).toFixed(0).padStart(5)} ms` +
      `, worst ${Math.max(...interactive).toFixed(0).padStart(5)} ms` +
      ` (page HTML at ${median(runs.map((r) => r.html)).toFixed(0)} ms;` +
      ` ${(median(runs.map((r) => r.bytes)) / 1024).toFixed(0)} KiB transferred)`,
  );
  console.log(
    `  ${"".padEnd(13)} first download: ${code.length} files (JS and WASM), ` +
      `${(raw / 1024).toFixed(0)} KiB raw, ${(gzip / 1024).toFixed(0)} KiB gzip -9`,
  );
}
await browser.close();
