// Marketplace billing in Chromium, on a console of its own, which reports to a marketplace
// emulator of its own (started with the console, its demo credentials in the console's
// environment): apply a pay-as-you-go key that names the emulator's AWS listing, link it on
// the Marketplace page (checked with a MeterUsage dry run), watch closed hours reported and
// accepted on the Usage page, then end the subscription at the emulator: the banner shows on
// every page and creating is refused; a check after renewing lifts it.
// The console is brought through the API to what the earlier files leave: activated
// (prepaid, 300 AKU) with a running instance (the ledger's hours below are that instance's);
// this file switches it to pay-as-you-go.
//
// Closed hours come from the metering task once an hour; a browser test cannot wait for
// hours to close, so the hours before this run are written into the ledger here (what the
// metering task writes for them), with the progress mark that says they are metered.
import { execFileSync } from "node:child_process";
import * as path from "node:path";
import { emulatorProduct } from "../playwright.config";
import { activate, createInstance, expect, hydrated, mintKey, setUp, shot, signIn, test } from "./helpers";

test.use({ consoleOptions: { name: "08-marketplace", marketplace: true } });

test.beforeAll(async ({ byoc }) => {
  await setUp(byoc);
  await activate(byoc, ["--billing", "prepaid", "--aku", "300", "--months", "24"]);
  await createInstance(byoc, { name: "orders", size_aku: "10" });
});

test.setTimeout(120_000);

/** Ledger records of `hours` closed hours (3 AKU each) under `licenseId`, ending `endsAgo`
 * hours before the current one, and the metering mark after them, in `database`. */
/** Seeds `hours` closed hours ending `endsAgo` hours before the current one; their starts. */
function seedLedger(database: string, licenseId: string, hours: number, endsAgo: number): number[] {
  const out = execFileSync("python3", ["-c", `
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], timeout=30)
license_id, hours, ends_ago = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
now = int(time.time())
current = now - now % 3600
instance = db.execute("SELECT MIN(id) FROM instances").fetchone()[0]
with db:
    for k in range(hours):
        hour = current - (ends_ago + hours - k) * 3600
        for dimension, quantity in (("aku_hours", "3"), ("data_in_gib", "0.25")):
            db.execute(
                "INSERT OR IGNORE INTO usage_ledger (record_id, instance_id, hour_start, dimension, quantity, license_id, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (f"e2e-{hour}-{dimension}", instance, hour, dimension, quantity, license_id, now))
    db.execute("INSERT INTO metering_progress (id, metered_until) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET metered_until = MAX(metered_until, excluded.metered_until)", (current - ends_ago * 3600,))
print([current - (ends_ago + hours - k) * 3600 for k in range(hours)])
`, database, licenseId, String(hours), String(endsAgo)], { encoding: "utf8" });
  return JSON.parse(out);
}

/** The month (UTC, YYYY-MM) of an hour's start. */
const monthOf = (hour: number) => new Date(hour * 1000).toISOString().slice(0, 7);

test("link the subscription, see hours reported, and follow its end", async ({ page, request, byoc }) => {
  const database = path.join(byoc.dataDir, "console.db");
  const emulatorURL = byoc.emulatorURL!;
  const vendorDir = byoc.vendorDir;
  await signIn(page);
  await page.goto("/");
  const installationId = (await page.getByTestId("installation-id").textContent())!.trim();
  const key = mintKey(vendorDir, installationId, [
    "--billing", "payg", "--aku", "500", "--months", "12", "--license-id", "LIC-E2E-PAYG",
    "--price", "aku_hours:0=0.10", "--listing", `aws:${emulatorProduct}`,
  ]);
  await page.goto("/license");
  await hydrated(page);
  await page.getByLabel("Product key").fill(key);
  await page.getByRole("button", { name: "Preview" }).click();
  await page.getByRole("button", { name: "Apply this key" }).click();
  await expect(page).toHaveURL(/\/license\?applied=1$/);

  // Three hours closed under the pay-as-you-go license before the link: the link reports
  // from the first of them.
  const seeded = seedLedger(database, "LIC-E2E-PAYG", 3, 1);
  // The usage page shows one month: in the first hours of a month (UTC) the seeded hours are
  // (partly) in the month before, so the page is asked for the first hour's month.
  const shownMonth = monthOf(seeded[0]);
  const hoursShown = seeded.filter((hour) => monthOf(hour) === shownMonth).length;

  // A listing other than the license's is refused with the reason, and nothing is linked.
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Marketplace" }).click();
  await expect(page.getByRole("heading", { name: "Marketplace", level: 1 })).toBeVisible();
  await hydrated(page);
  await expect(page.getByTestId("marketplace-billing")).toContainText(`aws:${emulatorProduct}`);
  await page.getByLabel("Listing (AWS product code, or Compute Nest service id)").fill("another-product");
  await page.getByRole("button", { name: "Check and link" }).click();
  await expect(page.locator("#listing-error")).toContainText(`billed through aws:${emulatorProduct}`);
  await expect(page.getByTestId("not-linked")).toBeVisible();

  await page.getByLabel("Listing (AWS product code, or Compute Nest service id)").fill(emulatorProduct);
  await page.getByRole("button", { name: "Check and link" }).click();
  await expect(page.getByTestId("link-marketplace")).toHaveText("AWS Marketplace");
  await expect(page.getByTestId("link-listing")).toHaveText(emulatorProduct);
  await expect(page.getByTestId("link-entitlement")).toHaveText("in force");
  await shot(page, "60-marketplace-linked");

  // The three closed hours: each dimension of each hour is reported and accepted.
  await page.goto(`/usage?month=${shownMonth}`);
  const aku = page.locator('[data-testid="marketplace-total"][data-key="AkuMinutes"]');
  await expect
    .poll(async () => {
      await page.reload();
      return (await aku.count()) ? Number(await aku.getByTestId("total-accepted").textContent()) : 0;
    }, { timeout: 30_000, intervals: [1_000] })
    .toBe(hoursShown * 3 * 60);
  await expect(aku.getByTestId("total-ledger")).toHaveText(String(hoursShown * 3 * 60));
  await expect(page.getByTestId("marketplace-hours").locator("[data-state=accepted]").first()).toBeVisible();
  const billed = await (await request.get(`${emulatorURL}/_emulator/billed`)).json();
  expect(billed.totals.aws.AkuMinutes).toBe(540);
  await shot(page, "61-usage-marketplace");

  // The subscription ends at the marketplace: the next hour's report says so.
  expect((await request.post(`${emulatorURL}/_emulator/entitlement`, { data: { entitled: false } })).ok()).toBe(true);
  seedLedger(database, "LIC-E2E-PAYG", 1, 0);
  await expect
    .poll(async () => {
      await page.goto("/instances");
      return await page.getByTestId("subscription-banner").count();
    }, { timeout: 30_000, intervals: [1_000] })
    .toBe(1);
  await expect(page.getByTestId("subscription-banner")).toContainText("nothing can be created or scaled up");
  await shot(page, "62-subscription-ended");

  // Renewed: a check on the Marketplace page lifts the hold.
  expect((await request.post(`${emulatorURL}/_emulator/entitlement`, { data: { entitled: true } })).ok()).toBe(true);
  await page.goto("/marketplace");
  await hydrated(page);
  await expect(page.getByTestId("marketplace-hold")).toBeVisible();
  await page.getByTestId("check-link").click();
  // AWS's dry run proves the permission, not the subscription: renewed until the held
  // hour's report is accepted.
  await expect(page.getByTestId("link-entitlement")).toContainText(/renewed by a check|in force/);
  await page.goto("/usage");
  await expect(page.getByTestId("subscription-banner")).toHaveCount(0);
});
