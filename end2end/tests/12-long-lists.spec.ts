// The other long lists in Chromium: the audit log, the users and an instance's operation
// history each come a page at a time (newest or first first), with the position in the URL
// (a reload shows the same page) and a link back to the start; the users list searches names.
// On a console of its own, brought through the API to: activated, 120 instances made through
// the create form's server function (each creation is an audit entry), 120 users and 30
// finished operations of the first instance written into the database as the console keeps
// them (hashing 120 passwords in a debug build would take minutes).
import { execFileSync } from "node:child_process";
import * as path from "node:path";
import type { Page } from "@playwright/test";
import { activate, asUser, call, expect, hydrated, setUp, signIn, test } from "./helpers";

test.use({ consoleOptions: { name: "12-long-lists", provisionStepMs: 1 } });

const INSTANCES = 120;

test.beforeAll(async ({ byoc }) => {
  test.setTimeout(180_000);
  await setUp(byoc);
  await activate(byoc, ["--billing", "prepaid", "--aku", String(INSTANCES * 3), "--months", "24"]);
  await asUser(byoc, async (api) => {
    for (let start = 0; start < INSTANCES; start += 8) {
      await Promise.all(
        Array.from({ length: 8 }, (_, k) =>
          call(api, "instance_create", {
            name: `list-${String(start + k).padStart(3, "0")}`, description: "", kafka_version: "3.9.0",
            deployment: "single_zone", vpc_id: "vpc-0a1b2c3d", subnet_1: "subnet-0000aaaa",
            data_bucket: "acme-kafka-data", wal_mode: "block_volume", client_auth: "sasl_scram",
            transit_encryption: "tls", endpoint_exposure: "vpc", tags: "", size_aku: "3",
          }),
        ),
      );
    }
  });
  const users = Array.from({ length: 120 }, (_, k) => {
    const role = ["viewer", "operator", "admin"][k % 3];
    return `('member-${String(k).padStart(3, "0")}', 'x', '${role}', 0)`;
  });
  const operations = Array.from({ length: 30 }, (_, k) =>
    `(1, 'scale', 'running', 'running', 3, 3, 'admin', ${1_790_000_000 + k}, 'succeeded', 2, 2, ${1_790_000_001 + k})`);
  // The console writes too (its reconciler, metering): wait for its lock, as a second writer must.
  execFileSync("sqlite3", ["-cmd", ".timeout 10000", path.join(byoc.dataDir, "console.db"),
    `INSERT INTO users (username, password_hash, role, created_at) VALUES ${users.join(", ")};
     INSERT INTO operations (instance_id, kind, from_state, to_state, from_aku, to_aku, requested_by,
       requested_at, status, steps_done, step_count, finished_at) VALUES ${operations.join(", ")};`]);
});

/** The values of `attribute` (or the first cell's text) of the rows with `testId`, in order. */
async function column(page: Page, testId: string, attribute?: string): Promise<string[]> {
  return page.getByTestId(testId).evaluateAll(
    (rows, attribute) => rows.map((r) => (attribute ? r.getAttribute(attribute) : r.querySelector("td")?.textContent) ?? ""),
    attribute,
  );
}

test("the audit log pages back through the creations, keeps its place and returns to the newest", async ({ page }) => {
  await signIn(page);
  await page.goto("/audit?action=instance_create");
  await hydrated(page);
  await expect(page.getByTestId("audit-total")).toHaveText(`${INSTANCES} entries`);
  const first = (await column(page, "audit-row")).map(Number);
  expect(first).toHaveLength(50);
  await expect(page.getByTestId("newest")).toHaveCount(0);

  await page.getByTestId("older").click();
  await expect(page).toHaveURL(/action=instance_create.*cursor=a\d+/);
  await expect(page.getByTestId("audit-row").first()).not.toHaveText(new RegExp(`^${first[0]}`));
  const second = (await column(page, "audit-row")).map(Number);
  await page.getByTestId("older").click();
  await expect(page.getByTestId("older")).toHaveCount(0);
  const third = (await column(page, "audit-row")).map(Number);
  const all = [...first, ...second, ...third];
  expect([second.length, third.length]).toEqual([50, 20]);
  expect(new Set(all).size).toBe(INSTANCES);
  expect(all.every((id, i) => i === 0 || id < all[i - 1])).toBe(true);
  // The URL holds the place.
  await page.reload();
  await hydrated(page);
  expect((await column(page, "audit-row")).map(Number)).toEqual(third);

  await page.getByTestId("newest").click();
  await expect(page).toHaveURL(/\/audit\?action=instance_create$/);
  await expect(page.getByTestId("audit-row")).toHaveCount(50);
  expect((await column(page, "audit-row")).map(Number)).toEqual(first);
});

test("the users list shows admins first, pages by name and searches", async ({ page }) => {
  await signIn(page);
  await page.goto("/users");
  await hydrated(page);
  const seen: string[] = [];
  for (let p = 0; ; p++) {
    await expect(page.getByTestId("user-row").first()).toBeVisible();
    seen.push(...(await column(page, "user-row", "data-username")));
    if ((await page.getByTestId("next-page").count()) === 0) break;
    await page.getByTestId("next-page").click();
    await expect(page).toHaveURL(/cursor=u\d+/);
    await expect(page.getByTestId("user-row").first()).not.toHaveAttribute("data-username", seen[p * 50]);
  }
  // 121 with the first admin: 41 admins, then 40 operators, then 40 viewers, each by name.
  expect(seen).toHaveLength(121);
  const members = (k: number) => Array.from({ length: 120 }, (_, i) => i).filter((i) => i % 3 === k)
    .map((i) => `member-${String(i).padStart(3, "0")}`);
  expect(seen).toEqual([...["admin", ...members(2)].sort(), ...members(1), ...members(0)]);
  await page.getByTestId("first-page").click();
  await expect(page).toHaveURL(/\/users$/);
  await expect(page.getByTestId("user-row")).toHaveCount(50);

  const search = page.getByTestId("user-search");
  await search.getByLabel("Name contains").fill("member-11");
  await search.getByRole("button", { name: "Search" }).click();
  await expect(page).toHaveURL(/q=member-11/);
  await expect(page.getByTestId("user-row")).toHaveCount(10);
  await search.getByLabel("Name contains").fill("nobody");
  await search.getByRole("button", { name: "Search" }).click();
  await expect(page.getByTestId("no-users")).toHaveText("No user name contains this.");
});

test("an instance's operation history shows 20 at a time, newest first", async ({ page }) => {
  await signIn(page);
  await page.goto("/instances/1");
  await hydrated(page);
  await expect(page.getByTestId("operation-row")).toHaveCount(20);
  await expect(page.getByTestId("newest-operations")).toHaveCount(0);
  await page.getByTestId("older-operations").click();
  await expect(page).toHaveURL(/operations=o\d+/);
  // The other 10 scales and the create, the oldest, last.
  await expect(page.getByTestId("operation-row")).toHaveCount(11);
  await expect(page.getByTestId("operation-row").last()).toContainText("create");
  await expect(page.getByTestId("older-operations")).toHaveCount(0);
  await page.getByTestId("newest-operations").click();
  await expect(page).toHaveURL(/\/instances\/1$/);
  await expect(page.getByTestId("operation-row")).toHaveCount(20);
});
