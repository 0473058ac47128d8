// The instance list at the size real environments reach, in Chromium: 2,000 instances, 50 a
// page, newest first. The reader pages forward with "Next page" (the position is in the URL, so
// the page can be bookmarked and reloaded), comes back with "First page", and searches by name;
// the same works with JavaScript off (plain links and a GET form).
// On a console of its own, brought through the API to: activated with room for 2,000
// instances of 3 AKU, and 2,000 instances made through the create form's server function
// (inst-0000 … inst-1999; the simulated provisioner, 1 ms a step).
import type { Page } from "@playwright/test";
import { activate, asUser, call, expect, hydrated, setUp, signIn, test } from "./helpers";

test.use({ consoleOptions: { name: "11-instance-list", provisionStepMs: 1 } });

const COUNT = 2000;
const name = (i: number) => `inst-${String(i).padStart(4, "0")}`;

test.beforeAll(async ({ byoc }) => {
  test.setTimeout(300_000);
  await setUp(byoc);
  await activate(byoc, ["--billing", "prepaid", "--aku", String(COUNT * 3), "--months", "24"]);
  await asUser(byoc, async (api) => {
    // Eight at a time, in order of their number within each batch.
    for (let start = 0; start < COUNT; start += 8) {
      await Promise.all(
        Array.from({ length: Math.min(8, COUNT - start) }, (_, k) =>
          call(api, "instance_create", {
            name: name(start + k), description: "", kafka_version: "3.9.0", deployment: "single_zone",
            vpc_id: "vpc-0a1b2c3d", subnet_1: "subnet-0000aaaa", data_bucket: "acme-kafka-data",
            wal_mode: "block_volume", client_auth: "sasl_scram", transit_encryption: "tls",
            endpoint_exposure: "vpc", tags: "", size_aku: "3",
          }),
        ),
      );
    }
  });
});

/** The names on the page, top to bottom. */
async function names(page: Page): Promise<string[]> {
  return page.getByTestId("instance-row").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-name") ?? ""));
}

/** The ids of the instances, newest first: the order the list shows. */
async function newestFirst(byoc: Parameters<typeof asUser>[0]): Promise<string[]> {
  return asUser(byoc, async (api) => {
    const all: string[] = [];
    let cursor = "";
    for (;;) {
      const page = await call(api, "instances", { name: "", cursor, limit: "100" });
      all.push(...page.instances.map((i: { name: string }) => i.name));
      if (!page.next) return all;
      cursor = page.next;
    }
  });
}

test.describe.serial("the instance list with 2,000 instances", () => {
  let order: string[] = [];

  test("pages forward 50 at a time, keeps its place in the URL, and goes back to the first page", async ({ page, byoc }) => {
    order = await newestFirst(byoc);
    expect(order).toHaveLength(COUNT);
    await signIn(page);
    await page.goto("/instances");
    await hydrated(page);
    await expect(page.getByRole("link", { name: `All (${COUNT})` })).toBeVisible();
    expect(await names(page)).toEqual(order.slice(0, 50));

    for (let p = 1; p <= 3; p++) {
      await page.getByTestId("next-page").click();
      await expect(page).toHaveURL(/cursor=/);
      await expect(page.getByTestId("instance-row").first()).toHaveAttribute("data-name", order[p * 50]);
      expect(await names(page)).toEqual(order.slice(p * 50, (p + 1) * 50));
    }
    // The URL holds the place: a reload shows the same page.
    await page.reload();
    await hydrated(page);
    expect(await names(page)).toEqual(order.slice(150, 200));

    await page.getByTestId("first-page").click();
    await expect(page).toHaveURL(/\/instances$/);
    await expect(page.getByTestId("instance-row").first()).toHaveAttribute("data-name", order[0]);
    await expect(page.getByTestId("first-page")).toHaveCount(0);
  });

  test("searches by name, within the state filter, and says when nothing matches", async ({ page }) => {
    await signIn(page);
    await page.goto("/instances");
    await hydrated(page);
    const search = page.getByTestId("instance-search");
    await search.getByLabel("Name contains").fill("inst-123");
    await search.getByRole("button", { name: "Search" }).click();
    await expect(page).toHaveURL(/q=inst-123/);
    const expected = order.filter((n) => n.includes("inst-123"));
    expect(expected).toHaveLength(10);
    await expect(page.getByTestId("instance-row")).toHaveCount(10);
    expect(await names(page)).toEqual(expected);
    await expect(page.getByTestId("next-page")).toHaveCount(0);

    await search.getByLabel("Name contains").fill("no-such-instance");
    await search.getByRole("button", { name: "Search" }).click();
    await expect(page.getByTestId("no-instances")).toHaveText("No instance name contains this.");
  });

  test("works with JavaScript off: the links and the search form are plain HTML", async ({ browser, byoc }) => {
    const context = await browser.newContext({ baseURL: byoc.url, javaScriptEnabled: false });
    const page = await context.newPage();
    try {
      await page.goto("/login");
      await page.getByLabel("User name").fill("admin");
      await page.getByLabel("Password").fill("Quiet-Harbor-Lamp-42");
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.goto("/instances?limit=20");
      expect(await names(page)).toEqual(order.slice(0, 20));
      await page.getByTestId("next-page").click();
      await expect(page).toHaveURL(/limit=20.*cursor=|cursor=.*limit=20/);
      expect(await names(page)).toEqual(order.slice(20, 40));
      await page.getByLabel("Name contains").fill("inst-19");
      await page.getByRole("button", { name: "Search" }).click();
      await expect(page).toHaveURL(/q=inst-19/);
      expect(await names(page)).toEqual(order.filter((n) => n.includes("inst-19")).slice(0, 50));
    } finally {
      await context.close();
    }
  });
});
