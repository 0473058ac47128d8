// The usage page in Chromium: the chart of daily AKU-hours (SVG drawn by the app), the
// month-to-date totals including the hour under way, the capacity against the prepaid quota,
// month navigation, and the ledger export downloading as a file.
// On a console of its own, brought through the API to what 03-instances.spec.ts leaves:
// activated (prepaid, 300 AKU) with running instances.
import * as fs from "node:fs";
import { activate, admin, createInstance, expect, setUp, signIn, test } from "./helpers";

test.use({ consoleOptions: { name: "04-usage" } });

test.beforeAll(async ({ byoc }) => {
  await setUp(byoc);
  await activate(byoc, ["--billing", "prepaid", "--aku", "300", "--months", "24"]);
  await Promise.all([
    createInstance(byoc, { name: "orders", size_aku: "10" }),
    createInstance(byoc, { name: "payments", size_aku: "200" }),
  ]);
});

test.setTimeout(120_000);

test("usage shows the chart, the totals and the capacity; the ledger downloads", async ({ page }) => {
  await signIn(page);
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Usage", exact: true }).click();
  await expect(page.getByRole("heading", { name: "Usage", level: 1 })).toBeVisible();
  const month = new Date().toISOString().slice(0, 7);
  await expect(page.getByTestId("month")).toHaveValue(month);

  const chart = page.getByTestId("usage-chart");
  await expect(chart).toBeVisible();
  const days = new Date(Number(month.slice(0, 4)), Number(month.slice(5, 7)), 0).getDate();
  await expect(chart.locator("rect.chart-bar")).toHaveCount(days);
  // The instances made before the test have run since a moment ago; usage is prorated to the
  // minute, so the first AKU-hours show once a minute has turned: reload until then.
  await expect
    .poll(async () => {
      await page.reload();
      return Number(await page.getByTestId("total-aku-hours").textContent());
    }, { timeout: 75_000, intervals: [5_000] })
    .toBeGreaterThan(0);
  await expect(page.getByTestId("usage-row").first()).toBeVisible();
  await expect(page.getByTestId("capacity")).toContainText("of 300 licensed");
  await page.screenshot({ path: "screenshots/35-usage.png", fullPage: true });

  const [download] = await Promise.all([
    page.waitForEvent("download"),
    page.getByTestId("export-usage-csv").click(),
  ]);
  expect(download.suggestedFilename()).toBe(`usage-${month}.csv`);
  const csv = fs.readFileSync((await download.path())!, "utf8");
  expect(csv.split("\n")[0]).toContain("record_id,customer,license_id,installation_id");

  // Another month: nothing was used then.
  await page.getByTestId("previous-month").click();
  await expect(page.getByTestId("no-usage")).toBeVisible();
});
