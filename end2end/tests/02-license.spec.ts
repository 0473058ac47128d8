// Activation with a key minted by `byoc-console vendor issue`, the license page, every page of
// the frame, renewal and upgrade with a preview, and refused keys, in Chromium.
// On a console of its own, set up through the API first (what 01-foundation.spec.ts does in
// the browser): not yet activated.
import { type Page } from "@playwright/test";
import { admin, expect, hydrated, mintKey as signedKey, setUp, shot, signIn, test, type ByocConsole } from "./helpers";

test.use({ consoleOptions: { name: "02-license" } });

/** A product key signed by the console's trusted test vendor. */
function mintKey(byoc: ByocConsole, installationId: string, args: string[]): string {
  return signedKey(byoc.vendorDir, installationId, args);
}

test.beforeAll(async ({ byoc }) => {
  await setUp(byoc);
});

test.describe.serial("activation and the license", () => {
  let installationId = "";

  test("bad keys are refused next to the field, a minted key activates", async ({ page, byoc }) => {
    await signIn(page);
    await expect(page).toHaveURL(/\/activate$/);
    installationId = (await page.getByTestId("installation-id").textContent())!.trim();
    expect(installationId).toMatch(/^[0-9a-f-]{36}$/);
    await page.getByRole("button", { name: "Copy" }).click();
    await expect(page.getByRole("button", { name: "Copied" })).toBeVisible();
    await shot(page, "10-activate");

    const key = page.getByLabel("Product key");
    await key.fill("definitely not a key");
    await page.getByRole("button", { name: "Activate" }).click();
    await expect(page.locator("#key-error")).toContainText("This is not a product key");

    const foreign = mintKey(byoc, "some-other-installation", ["--billing", "prepaid", "--aku", "100", "--months", "12"]);
    await key.fill(foreign);
    await page.getByRole("button", { name: "Activate" }).click();
    await expect(page.locator("#key-error")).toContainText("belongs to another installation");
    await shot(page, "11-activate-refused");

    const good = mintKey(byoc, installationId, [
      "--billing", "prepaid", "--aku", "100", "--months", "12", "--license-id", "LIC-E2E-1",
    ]);
    // As pasted from a mail client that wrapped the line.
    await key.fill(good.slice(0, 70) + "\n" + good.slice(70));
    await page.getByRole("button", { name: "Activate" }).click();
    await expect(page).toHaveURL(/\/license\?applied=1$/);
    await expect(page.getByTestId("key-applied")).toBeVisible();
    await expect(page.getByTestId("license-phase")).toHaveText("Active");
    await expect(page.getByTestId("license-billing")).toHaveText("Prepaid subscription");
    await expect(page.getByTestId("license-quota")).toHaveText("100 AKU");
    await expect(page.getByTestId("license-days-left")).toHaveText(/^3(6[4-6]) days$/);
    await expect(page.getByTestId("run-time-key-banner")).toBeVisible();
    await expect(page.getByTestId("key-history")).toContainText("LIC-E2E-1");
    await shot(page, "12-license");
  });

  test("the overview and every page of the frame", async ({ page }) => {
    await signIn(page);
    await expect(page).toHaveURL(/\/$/);
    await expect(page.getByRole("heading", { name: "Overview" })).toBeVisible();
    await expect(page.getByTestId("license-card")).toContainText("100 AKU");
    await expect(page.getByTestId("quota-bar")).toContainText("0 / 100 AKU used");
    await expect(page.getByTestId("environment-card")).toContainText("Production");
    await expect(page).toHaveTitle("Overview · BYOC console");
    await shot(page, "13-overview");

    const nav = page.getByRole("navigation", { name: "Main" });
    for (const [name, slug, heading] of [
      ["Instances", "instances", "Instances"],
      ["License", "license", "License"],
      ["Usage", "usage", "Usage"],
      ["Users", "users", "Users"],
      ["Audit log", "audit", "Audit log"],
      ["Overview", "", "Overview"],
    ]) {
      await nav.getByRole("link", { name, exact: true }).click();
      await expect(page).toHaveURL(new RegExp(`/${slug}$`));
      await expect(page.getByRole("heading", { name: heading, level: 1 })).toBeVisible();
      await expect(nav.getByRole("link", { name, exact: true })).toHaveAttribute("aria-current", "page");
      await shot(page, `14-page-${slug || "overview"}`);
    }

    await page.goto("/no-such-page");
    await expect(page.getByRole("heading", { name: "Page not found" })).toBeVisible();
    await shot(page, "15-not-found");

    // The WASM travels compressed (precompressed by the build).
    const wasm = await page.request.get("/pkg/byoc-console_bg.wasm", {
      headers: { "accept-encoding": "br, gzip" },
    });
    expect(wasm.headers()["content-encoding"]).toMatch(/^(br|gzip)$/);

    // A full load names every WASM module the page needs in its head (the splitter's manifest),
    // so the browser fetches them beside the main module rather than after it has run; and it
    // names none the page does not use.
    await page.goto("/license");
    await hydrated(page);
    const preloaded = await page
      .locator('head link[rel="preload"][as="fetch"]')
      .evaluateAll((links) => links.map((l) => new URL((l as HTMLLinkElement).href).pathname));
    const fetched = await page.evaluate(() =>
      performance
        .getEntriesByType("resource")
        .map((r) => new URL(r.name).pathname)
        .filter((p) => p.endsWith(".wasm")),
    );
    expect(preloaded).toContain("/pkg/byoc-console_bg.wasm");
    expect(preloaded.some((p) => p.startsWith("/pkg/split___license_page"))).toBe(true);
    expect([...new Set(fetched)].sort()).toEqual([...new Set(preloaded)].sort());
    // Every page of the frame names its own module (the shell's table of routes follows app.rs).
    for (const [path, route] of [
      ["/", "overview"], ["/instances", "instances"], ["/usage", "usage"], ["/users", "users"],
      ["/audit", "audit"], ["/account", "account"],
    ]) {
      const html = await (await page.request.get(path)).text();
      expect(html, path).toMatch(new RegExp(`<link rel="preload" href="/pkg/split___${route}_page_route_view_\\d+\\.wasm"`));
    }
  });

  test("an upgrade is previewed, then confirmed; an older key is refused", async ({ page, byoc }) => {
    await signIn(page);
    await page.goto("/license");
    await hydrated(page);
    const upgrade = mintKey(byoc, installationId, [
      "--billing", "prepaid", "--aku", "300", "--months", "24", "--license-id", "LIC-E2E-2",
    ]);
    await page.getByLabel("Product key").fill(upgrade);
    await page.getByRole("button", { name: "Preview" }).click();
    await expect(page.getByTestId("key-preview")).toBeVisible();
    await expect(page.getByTestId("preview-quota")).toHaveText("100 AKU → 300 AKU");
    await expect(page.getByTestId("preview-expiry")).toContainText("→");
    await shot(page, "16-license-preview");
    // Nothing changed yet.
    await expect(page.getByTestId("license-quota")).toHaveText("100 AKU");

    await page.getByRole("button", { name: "Apply this key" }).click();
    await expect(page).toHaveURL(/\/license\?applied=1$/);
    await expect(page.getByTestId("license-quota")).toHaveText("300 AKU");
    await expect(page.getByTestId("key-history").locator("tbody tr")).toHaveCount(2);

    // A key issued before the applied one cannot replace it.
    const older = mintKey(byoc, installationId, [
      "--billing", "prepaid", "--aku", "500", "--months", "12", "--issued", "2026-01-01",
      "--starts", "2026-01-01",
    ]);
    await page.getByLabel("Product key").fill(older);
    await page.getByRole("button", { name: "Preview" }).click();
    await expect(page.locator("#key-error")).toContainText("before the license already applied");
    await expect(page.getByTestId("key-preview")).toHaveCount(0);
    await shot(page, "17-license-refused");
  });
});
