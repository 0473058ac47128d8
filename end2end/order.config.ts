// The browser tests with the spec files in an order of one's choosing, to show they do not
// depend on it (Playwright itself always runs files in name order, whatever the command line
// says): E2E_ORDER lists the files' numbers, e.g.
//   E2E_ORDER=09,08,07,06,05,04,03,02,01 npx playwright test -c order.config.ts
// Each file becomes a project that depends on the one before, which forces the order.
import { defineConfig } from "@playwright/test";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import config from "./playwright.config";

// By default every spec file, last first.
const numbers = readdirSync(join(__dirname, "tests"))
  .map((f) => /^(\d+)-.*\.spec\.ts$/.exec(f)?.[1])
  .filter((n): n is string => n !== undefined)
  .sort()
  .reverse();
const order = (process.env.E2E_ORDER ?? numbers.join(",")).split(",").map((n) => n.trim());

export default defineConfig({
  ...config,
  projects: order.map((n, i) => ({
    name: `file-${n}`,
    testMatch: new RegExp(`/${n}-[^/]*\\.spec\\.ts$`),
    dependencies: i ? [`file-${order[i - 1]}`] : [],
  })),
});
