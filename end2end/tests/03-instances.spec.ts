// Kafka instances in Chromium: create with the sizing helper and the live quota preview, watch
// creating -> running without reloading, scale up and down, a refused scale-up with the exact
// shortfall, delete with the typed name, a failed step and retry, and the overview.
// On a console of its own, set up and activated with 300 AKU (prepaid, as 02-license.spec.ts
// leaves it) through the API first; no instances yet.
import { type Page } from "@playwright/test";
import { activate, admin, expect, hydrated, setUp, shot, signIn, test } from "./helpers";

test.use({ consoleOptions: { name: "03-instances" } });

test.beforeAll(async ({ byoc }) => {
  await setUp(byoc);
  await activate(byoc, ["--billing", "prepaid", "--aku", "300", "--months", "24"]);
});

/** Fills the create form (AWS, eu-central-1) with `size` AKU, three zones unless `oneZone`. */
async function fillCreateForm(page: Page, name: string, opts: { oneZone?: boolean; tags?: string } = {}) {
  await page.goto("/instances/new");
  await hydrated(page);
  await page.getByLabel("Name", { exact: true }).fill(name);
  await page.getByLabel("Description").fill(`${name} events`);
  if (!opts.oneZone) {
    await page.getByLabel("Deployment").selectOption("three_zones");
    await expect(page.getByTestId("more-subnets")).toBeVisible();
  }
  await page.getByLabel("VPC ID").fill("vpc-0a1b2c3d");
  await page.getByLabel("Subnet (zone 1)").fill("subnet-0000aaaa");
  if (!opts.oneZone) {
    await page.getByLabel("Subnet (zone 2)").fill("subnet-0000bbbb");
    await page.getByLabel("Subnet (zone 3)").fill("subnet-0000cccc");
  }
  await page.getByLabel("Data bucket").fill("acme-kafka-data");
  if (opts.tags) await page.getByLabel("Tags").fill(opts.tags);
}

async function waitForState(page: Page, state: string) {
  // No reload: the page refreshes itself while an operation runs.
  await expect(page.getByTestId("instance-state").first()).toHaveText(state, { timeout: 30_000 });
}

test.describe.serial("Kafka instances", () => {
  test("create with the sizing helper and the live preview; creating turns running", async ({ page }) => {
    await signIn(page);
    await page.goto("/instances");
    await expect(page.getByTestId("no-instances")).toBeVisible();
    await expect(page.getByTestId("quota-bar")).toContainText("0 / 300 AKU used");
    await shot(page, "20-instances-empty");

    await fillCreateForm(page, "orders");
    // 100 MiB/s of writes needs 4 AKU, 300 MiB/s of reads needs 5: the larger need wins.
    await page.getByLabel("Write MiB/s").fill("100");
    await page.getByLabel("Read MiB/s").fill("300");
    await expect(page.getByTestId("proposal")).toContainText("Proposed: 5 AKU");
    await page.getByTestId("use-proposal").click();
    await expect(page.getByLabel("Size (AKU)")).toHaveValue("5");
    await expect(page.getByTestId("preview-used")).toHaveText("0 AKU");
    await expect(page.getByTestId("preview-after")).toHaveText("5 AKU");
    await expect(page.getByTestId("preview-left")).toHaveText("295 AKU of 300");

    // Too much for the quota: submit is disabled with the reason, as the user types.
    await page.getByLabel("Size (AKU)").fill("301");
    await expect(page.getByTestId("create-submit")).toBeDisabled();
    await expect(page.getByTestId("submit-blocked")).toContainText("needs 301 AKU, 300 left of 300");
    await page.getByLabel("Size (AKU)").fill("299");
    await expect(page.getByTestId("create-submit")).toBeEnabled();
    await page.getByLabel("Size (AKU)").fill("2");
    await expect(page.getByTestId("submit-blocked")).toHaveText("Size must be at least 3 AKU.");
    await expect(page.getByTestId("create-submit")).toBeDisabled();
    await page.getByLabel("Size (AKU)").fill("5");
    await shot(page, "21-create-form");

    await page.getByTestId("create-submit").click();
    await expect(page).toHaveURL(/\/instances\/\d+$/);
    await expect(page.getByTestId("instance-name")).toHaveText("orders");
    await expect(page.getByTestId("instance-state")).toHaveText("creating");
    await expect(page.getByTestId("instance-progress")).toContainText("step");
    await shot(page, "22-instance-creating");
    await waitForState(page, "running");
    await expect(page.getByTestId("bootstrap")).toHaveText("orders.vpc-0a1b2c3d.kafka.internal:9093");
    await expect(page.locator("[data-testid=operation-steps] li[data-status=done]")).toHaveCount(5);
    await expect(page.getByTestId("operation-row")).toHaveCount(1);
    await expect(page.getByTestId("operation-row")).toContainText("create 5 AKU");
    await shot(page, "23-instance-running");
  });

  test("server-side errors show next to their fields", async ({ page }) => {
    await signIn(page);
    await fillCreateForm(page, "orders");
    await page.getByLabel("Data bucket").fill("Bad_Bucket");
    await page.getByTestId("create-submit").click();
    await expect(page.locator("#data_bucket-error")).toContainText("Data bucket must be");
    await page.getByLabel("Data bucket").fill("acme-payments");
    await page.getByTestId("create-submit").click();
    // The name is taken (checked with the quota, in the write transaction).
    await expect(page.locator("#name-error")).toContainText("exists already");
    await expect(page.locator("#data_bucket-error")).toBeEmpty();
    await page.getByLabel("Name", { exact: true }).fill("payments");
    await page.getByLabel("Client authentication").selectOption("mtls");
    await page.getByLabel("Transit encryption").selectOption("plaintext");
    await page.getByTestId("create-submit").click();
    await expect(page.locator("#transit_encryption-error")).toContainText("Mutual TLS");
    await shot(page, "24-create-errors");
  });

  test("three instances; scale up and down; a refused scale-up states the shortfall", async ({ page }) => {
    await signIn(page);
    for (const [name, size] of [["payments", "200"], ["audit", "40"]]) {
      await fillCreateForm(page, name, { oneZone: true });
      await page.getByLabel("Size (AKU)").fill(size);
      await page.getByTestId("create-submit").click();
      await expect(page).toHaveURL(/\/instances\/\d+$/);
      await waitForState(page, "running");
    }
    await page.goto("/instances");
    await expect(page.getByTestId("instance-row")).toHaveCount(3);
    await expect(page.getByTestId("quota-bar")).toContainText("245 / 300 AKU used");
    await shot(page, "25-instances-three");

    await page.getByRole("link", { name: "orders", exact: true }).click();
    await expect(page.getByTestId("instance-name")).toHaveText("orders");
    await hydrated(page);
    // 245 of 300 used: orders (5 AKU) may grow by 55 at most.
    await page.getByLabel("New size (AKU)").fill("67");
    await expect(page.getByTestId("scale-preview")).toContainText("needs 62 AKU, 55 left of 300");
    await expect(page.getByTestId("scale-submit")).toBeDisabled();
    await shot(page, "26-scale-refused-live");

    // The server refuses too (another operator may have taken the quota meanwhile): posted
    // without the browser's check, the answer names the shortfall.
    const id = page.url().split("/").pop()!;
    const refused = await page.request.post("/api/instance_scale", {
      form: { id, size_aku: "67" },
      headers: { accept: "application/json" },
    });
    expect(refused.status()).toBe(422);
    expect(await refused.text()).toContain("needs 62 AKU, 55 left of 300");

    await page.getByLabel("New size (AKU)").fill("60");
    await expect(page.getByTestId("scale-preview")).toContainText("Scale up by 55 AKU");
    await page.getByTestId("scale-submit").click();
    await waitForState(page, "changing");
    await expect(page.getByTestId("detail-size")).toHaveText("5 AKU → 60 AKU");
    await waitForState(page, "running");
    await expect(page.getByTestId("detail-size")).toHaveText("60 AKU");

    await page.getByLabel("New size (AKU)").fill("10");
    await expect(page.getByTestId("scale-preview")).toContainText("Scale down by 50 AKU");
    await page.getByTestId("scale-submit").click();
    await waitForState(page, "changing");
    await waitForState(page, "running");
    await expect(page.getByTestId("detail-size")).toHaveText("10 AKU");
    await expect(page.getByTestId("operation-row")).toHaveCount(3);
    await shot(page, "27-instance-scaled");
  });

  test("delete needs the typed name; the instance leaves the list", async ({ page }) => {
    await signIn(page);
    await page.goto("/instances");
    await page.getByRole("link", { name: "audit", exact: true }).click();
    await expect(page.getByTestId("instance-name")).toHaveText("audit");
    await hydrated(page);
    await expect(page.getByTestId("delete-submit")).toBeDisabled();
    await page.getByLabel("Instance name").fill("audi");
    await expect(page.getByTestId("delete-submit")).toBeDisabled();
    await page.getByLabel("Instance name").fill("audit");
    await expect(page.getByTestId("delete-submit")).toBeEnabled();
    await shot(page, "28-delete-confirm");
    await page.getByTestId("delete-submit").click();
    await waitForState(page, "deleting");
    await waitForState(page, "deleted");
    await expect(page.getByTestId("deleted-notice")).toBeVisible();

    await page.goto("/instances");
    await expect(page.getByTestId("instance-row")).toHaveCount(2);
    await expect(page.getByTestId("quota-bar")).toContainText("210 / 300 AKU used");
  });

  test("a failed step turns the instance abnormal with the reason; retry finishes it", async ({ page }) => {
    await signIn(page);
    await fillCreateForm(page, "flaky", { oneZone: true, tags: "simulate-failure=attach-storage" });
    await page.getByLabel("Size (AKU)").fill("3");
    await page.getByTestId("create-submit").click();
    await expect(page).toHaveURL(/\/instances\/\d+$/);
    await waitForState(page, "abnormal");
    await expect(page.getByTestId("abnormal-reason")).toContainText("Attach the write-ahead log and the data bucket failed");
    await shot(page, "29-instance-abnormal");
    await page.getByTestId("retry").click();
    await waitForState(page, "running");
    await expect(page.getByTestId("operation-row")).toHaveCount(2);
  });

  test("the overview shows instances by state and recent operations; the filter works", async ({ page }) => {
    await signIn(page);
    await expect(page.getByTestId("instance-total")).toHaveText("3 instances");
    await expect(page.getByTestId("recent-operations")).toContainText("flaky");
    await expect(page.getByTestId("recent-operations")).toContainText("scale 60 → 10 AKU");
    await expect(page.getByTestId("quota-bar")).toContainText("213 / 300 AKU used");
    await shot(page, "30-overview-instances");
    await page.goto("/instances?state=running");
    await expect(page.getByTestId("instance-row")).toHaveCount(3);
    await page.goto("/instances?state=abnormal");
    await expect(page.getByTestId("no-instances")).toBeVisible();
  });
});
