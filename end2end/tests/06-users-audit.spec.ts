// Users, roles and the audit log in Chromium: the admin creates an operator and a viewer;
// each chooses a password at first sign-in, sees and can do what the role allows and no more;
// the audit log shows it all, its chain verifies, and a row edited by hand in the database
// makes `byoc-console audit verify` and the page point at it.
// On a console of its own (it breaks the audit chain on purpose), brought through the API to
// what the earlier files leave: activated, with a running instance (orders, id 1) that the
// operator and the viewer look at; no users but the admin.
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { activate, admin, createInstance, expect, hydrated, serverBin, setUp, shot, signIn, test } from "./helpers";

test.use({ consoleOptions: { name: "06-users-audit" } });

test.beforeAll(async ({ byoc }) => {
  await setUp(byoc);
  await activate(byoc, ["--billing", "prepaid", "--aku", "300", "--months", "24"]);
  expect(await createInstance(byoc, { name: "orders", size_aku: "10" })).toBe(1);
});

const initial = "Initial-Copper-Field-31";
const chosen = { otto: "Otto-Chooses-River-72", vera: "Vera-Chooses-Meadow-64" };

function console(args: string[]) {
  return spawnSync(serverBin, args, {
    encoding: "utf8",
    env: { ...process.env, RUST_LOG: "error" },
  });
}

test.describe.serial("users, roles and the audit log", () => {
  test("the admin creates an operator and a viewer", async ({ page }) => {
    await signIn(page, admin.username, admin.password);
    const nav = page.getByRole("navigation", { name: "Main" });
    await nav.getByRole("link", { name: "Users", exact: true }).click();
    await expect(page.getByRole("heading", { name: "Users", level: 1 })).toBeVisible();
    await hydrated(page);
    for (const [name, role] of [["otto", "operator"], ["vera", "viewer"]]) {
      await page.getByLabel("User name").fill(name);
      await page.getByLabel("Role", { exact: true }).selectOption(role);
      await page.getByLabel("Initial password", { exact: true }).fill(initial);
      await page.getByLabel("Repeat the initial password").fill(initial);
      await page.getByRole("button", { name: "Add user" }).click();
      await expect(page.getByTestId("user-created")).toBeVisible();
      const row = page.locator(`[data-testid=user-row][data-username=${name}]`);
      await expect(row.getByTestId("user-role")).toHaveText(role);
      await expect(row.getByTestId("user-status")).toHaveText("must change password");
    }
    // A name that exists is refused next to the field.
    await page.getByLabel("User name").fill("otto");
    await page.getByLabel("Initial password", { exact: true }).fill(initial);
    await page.getByLabel("Repeat the initial password").fill(initial);
    await page.getByRole("button", { name: "Add user" }).click();
    await expect(page.locator("#username-error")).toContainText("exists already");
    // The last admin cannot demote themselves.
    const me = page.locator(`[data-testid=user-row][data-username=admin]`);
    await me.getByLabel("Role of admin").selectOption("viewer");
    await me.getByRole("button", { name: "Set role" }).click();
    await expect(page.getByTestId("users-error")).toContainText("last active administrator");
    await shot(page, "40-users");
  });

  test("the operator chooses a password, then manages instances but not users", async ({ page }) => {
    await signIn(page, "otto", initial);
    await expect(page).toHaveURL(/\/account$/);
    await expect(page.getByTestId("must-change")).toBeVisible();
    await hydrated(page);
    await page.getByLabel("Current password").fill(initial);
    await page.getByLabel("New password", { exact: true }).fill(chosen.otto);
    await page.getByLabel("Repeat the new password").fill(chosen.otto);
    await page.getByRole("button", { name: "Change password" }).click();
    await expect(page.getByTestId("password-changed")).toBeVisible();
    await shot(page, "41-account-changed");

    const nav = page.getByRole("navigation", { name: "Main" });
    await nav.getByRole("link", { name: "Instances", exact: true }).click();
    await expect(page.getByTestId("create-instance")).toBeVisible();
    await expect(nav.getByRole("link", { name: "Users" })).toHaveCount(0);
    await expect(nav.getByRole("link", { name: "Audit log" })).toHaveCount(0);
    await page.getByRole("link", { name: "orders", exact: true }).click();
    await expect(page.getByTestId("scale-form")).toBeVisible();
    // The server refuses what the UI does not offer.
    await page.goto("/users");
    await expect(page.locator(".error-page")).toContainText("needs the admin role");
    const forced = await page.request.post("/api/user_create", {
      form: { username: "eve", role: "admin", password: initial, password_confirm: initial },
      headers: { accept: "application/json" },
    });
    expect(forced.status()).toBe(403);
  });

  test("the viewer reads instances and changes nothing", async ({ page }) => {
    await signIn(page, "vera", initial);
    await expect(page).toHaveURL(/\/account$/);
    await hydrated(page);
    await page.getByLabel("Current password").fill(initial);
    await page.getByLabel("New password", { exact: true }).fill(chosen.vera);
    await page.getByLabel("Repeat the new password").fill(chosen.vera);
    await page.getByRole("button", { name: "Change password" }).click();
    await expect(page.getByTestId("password-changed")).toBeVisible();

    await page.goto("/instances");
    await expect(page.getByTestId("instance-row").first()).toBeVisible();
    await expect(page.getByTestId("create-instance")).toHaveCount(0);
    await page.getByRole("link", { name: "orders", exact: true }).click();
    await expect(page.getByTestId("instance-name")).toHaveText("orders");
    await expect(page.getByTestId("scale-form")).toHaveCount(0);
    await expect(page.getByTestId("delete-form")).toHaveCount(0);
    await page.goto("/instances/new");
    await expect(page.getByTestId("read-only")).toBeVisible();
    const forced = await page.request.post("/api/instance_scale", {
      form: { id: "1", size_aku: "50" },
      headers: { accept: "application/json" },
    });
    expect(forced.status()).toBe(403);
    await shot(page, "42-viewer-instance");
  });

  test("the audit log shows it all and its chain verifies; a hand edit is found", async ({ page, byoc }) => {
    await signIn(page, admin.username, admin.password);
    await page.goto("/audit");
    await expect(page.getByTestId("chain-status")).toContainText("intact");
    await expect(page.getByTestId("audit-table")).toContainText("user_create");
    await expect(page.getByTestId("audit-table")).toContainText("password_change");
    await expect(page.getByTestId("audit-table")).toContainText("instance_create");
    await hydrated(page);
    await page.getByLabel("Actor").selectOption("otto");
    await page.getByRole("button", { name: "Filter" }).click();
    await expect(page).toHaveURL(/actor=otto/);
    const rows = page.getByTestId("audit-row");
    await expect(rows.first()).toContainText("otto");
    for (const text of await rows.allTextContents()) expect(text).toContain("otto");
    await shot(page, "43-audit-filtered");

    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.getByTestId("export-csv").click(),
    ]);
    const csvPath = await download.path();
    const csv = fs.readFileSync(csvPath!, "utf8").trim().split("\n");
    expect(csv[0]).toContain("id,at,actor,action");
    expect(csv.length).toBeGreaterThan(1);
    for (const line of csv.slice(1)) expect(line).toContain("otto");

    const data = byoc.dataDir;
    const ok = console(["audit", "verify", "--data-dir", data]);
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toContain("intact");

    // Someone with access to the file rewrites history.
    execFileSync("sqlite3", ["-cmd", ".timeout 10000", path.join(data, "console.db"),
      "UPDATE audit_log SET actor = 'nobody' WHERE id = 3"]);
    const broken = console(["audit", "verify", "--data-dir", data]);
    expect(broken.status).toBe(1);
    expect(broken.stderr).toContain("entry 3 does not match its hash");
    await page.goto("/audit");
    await expect(page.getByTestId("chain-status")).toContainText("entry 3 does not match its hash");
    await shot(page, "44-audit-broken");
  });
});
