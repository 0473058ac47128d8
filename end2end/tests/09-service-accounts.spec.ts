// Service accounts in Chromium: the admin opens the page from the navigation; bad input is
// refused next to its field; an operator account is made, its token (shown once) opens the
// REST API (/api/v1) and the list shows where it was last used from; rotating gives a new
// token and the old one stops at once; revoking ends it; a viewer account's token may read
// but not create. A viewer user sees neither the link nor the page; the audit log shows the
// changes; the list reads fine with JavaScript off.
// On a console of its own, brought through the API to: activated, with a running instance
// (orders, id 1) for the REST API to list, and a viewer user (vic) who has chosen a password.
import type { APIRequestContext, APIResponse } from "@playwright/test";
import { activate, admin, createInstance, createUser, expect, hydrated, setUp, shot, signIn, test } from "./helpers";

test.use({ consoleOptions: { name: "09-service-accounts" } });

const viewer = { username: "vic", password: "Vic-Reads-Quietly-58" };

test.beforeAll(async ({ byoc }) => {
  await setUp(byoc);
  await activate(byoc, ["--billing", "prepaid", "--aku", "300", "--months", "24"]);
  expect(await createInstance(byoc, { name: "orders", size_aku: "5" })).toBe(1);
  await createUser(byoc, viewer.username, "viewer", viewer.password);
});

/** A day `days` from today (UTC), as a date input takes it. */
function day(days: number): string {
  return new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10);
}

const tokenForm = /^byoc_sa_(\d+)_[A-Za-z0-9_-]{43}$/;
// Set by the tests in order (the describe is serial).
let firstToken = "";
let rotatedToken = "";
const expiry = day(30);

function bearer(token: string) {
  return { headers: { authorization: `Bearer ${token}`, accept: "application/json" } };
}

async function listInstances(request: APIRequestContext, token: string): Promise<APIResponse> {
  return request.get("/api/v1/instances", bearer(token));
}

/** The answer is a 401 problem (RFC 9457) of the REST API. */
async function expectUnauthenticated(answer: APIResponse) {
  expect(answer.status(), await answer.text()).toBe(401);
  expect(answer.headers()["content-type"]).toContain("application/problem+json");
  const problem = await answer.json();
  expect(problem.status).toBe(401);
  expect(problem.type).toBe("/api/v1/problems/unauthenticated");
}

/** The answer is the 200 list of the instances: orders, the only one. */
async function expectInstanceList(answer: APIResponse) {
  expect(answer.status(), await answer.text()).toBe(200);
  expect(answer.headers()["content-type"]).toContain("application/json");
  const body = await answer.json();
  expect(body.items.map((i: { name: string }) => i.name)).toEqual(["orders"]);
  expect(body.items[0].state).toBe("running");
  expect(body).not.toHaveProperty("next");
}

test.describe.serial("service accounts", () => {
  test("the admin opens the page from the navigation; bad input is refused next to its field", async ({ page }) => {
    await signIn(page, admin.username, admin.password);
    const nav = page.getByRole("navigation", { name: "Main" });
    await nav.getByRole("link", { name: "Service accounts", exact: true }).click();
    await expect(page).toHaveURL(/\/service-accounts$/);
    await expect(page.getByRole("heading", { name: "Service accounts", level: 1 })).toBeVisible();
    await expect(page.getByTestId("service-account-table")).toBeVisible();
    await expect(page.getByTestId("service-account-row")).toHaveCount(0);
    await hydrated(page);

    const name = page.getByLabel("Name", { exact: true });
    const expires = page.getByLabel("Expires (optional)");
    const add = page.getByRole("button", { name: "Add service account" });
    // No name.
    await add.click();
    await expect(page.locator("#name-error")).toHaveText(
      "Service account name must be 3 to 32 characters long (this one has 0).");
    await expect(name).toHaveAttribute("aria-invalid", "true");
    await expect(page.locator("#expires-error")).toBeEmpty();
    // A good name, but an expiry already over (yesterday, UTC).
    await name.fill("terraform-ci");
    await page.getByLabel("Role").selectOption("operator");
    await expires.fill(day(-1));
    await add.click();
    await expect(page.locator("#expires-error")).toHaveText("Expiry must be today or later.");
    await expect(expires).toHaveAttribute("aria-invalid", "true");
    await expect(page.locator("#name-error")).toBeEmpty();
    await expect(name).toHaveAttribute("aria-invalid", "false");
    // Neither made an account or a token.
    await expect(page.getByTestId("new-token")).toHaveCount(0);
    await expect(page.getByTestId("service-account-row")).toHaveCount(0);
    await shot(page, "90-service-accounts-errors");
  });

  test("an operator account: its token, shown once, opens the REST API, and the list shows its use", async ({ page, context, baseURL, request }) => {
    await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: baseURL });
    await signIn(page, admin.username, admin.password);
    await page.goto("/service-accounts");
    await expect(page.getByRole("heading", { name: "Service accounts", level: 1 })).toBeVisible();
    await hydrated(page);
    await page.getByLabel("Name", { exact: true }).fill("terraform-ci");
    await page.getByLabel("Role").selectOption("operator");
    await page.getByLabel("Expires (optional)").fill(expiry);
    await page.getByRole("button", { name: "Add service account" }).click();

    const shown = page.getByTestId("new-token");
    await expect(shown).toBeVisible();
    await expect(shown.getByRole("heading")).toHaveText("Token of terraform-ci");
    await expect(shown.getByTestId("new-token-value")).toHaveText(tokenForm);
    firstToken = (await shown.getByTestId("new-token-value").textContent())!.trim();
    await shown.getByTestId("copy-token").click();
    await expect(shown.getByTestId("copy-token")).toHaveText("Copied");
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(firstToken);

    const row = page.locator('[data-testid=service-account-row][data-name="terraform-ci"]');
    await expect(row.getByTestId("service-account-role")).toHaveText("operator");
    await expect(row.getByTestId("service-account-status")).toHaveText("active");
    await expect(row.getByTestId("service-account-last-used")).toHaveText("never");
    await expect(row).toContainText(expiry);
    await shot(page, "91-service-account-token");

    // The token is what opens the API: without it, 401.
    await expectUnauthenticated(await request.get("/api/v1/instances", { headers: { accept: "application/json" } }));
    await expectInstanceList(await listInstances(request, firstToken));

    // Shown once: a reload shows the list, with the use just made, and not the token.
    await page.reload();
    await expect(row.getByTestId("service-account-last-used")).toHaveText(
      /^\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC from 127\.0\.0\.1$/);
    await expect(row.getByTestId("service-account-status")).toHaveText("active");
    await expect(page.getByTestId("new-token")).toHaveCount(0);
    await expect(page.locator("body")).not.toContainText(firstToken.slice(-43));

    // A second account of the same name is refused next to the field.
    await hydrated(page);
    await page.getByLabel("Name", { exact: true }).fill("terraform-ci");
    await page.getByRole("button", { name: "Add service account" }).click();
    await expect(page.locator("#name-error")).toContainText("exists already");
    await expect(page.getByTestId("service-account-row")).toHaveCount(1);
  });

  test("a viewer account's token reads but may not create", async ({ page, request }) => {
    await signIn(page, admin.username, admin.password);
    await page.goto("/service-accounts");
    await expect(page.getByRole("heading", { name: "Service accounts", level: 1 })).toBeVisible();
    await hydrated(page);
    await page.getByLabel("Name", { exact: true }).fill("dashboards");
    await page.getByLabel("Role").selectOption("viewer");
    await page.getByRole("button", { name: "Add service account" }).click();
    const shown = page.getByTestId("new-token");
    await expect(shown.getByRole("heading")).toHaveText("Token of dashboards");
    await expect(shown.getByTestId("new-token-value")).toHaveText(tokenForm);
    const token = (await shown.getByTestId("new-token-value").textContent())!.trim();
    const row = page.locator('[data-testid=service-account-row][data-name="dashboards"]');
    await expect(row.getByTestId("service-account-role")).toHaveText("viewer");
    await expect(row.getByTestId("service-account-status")).toHaveText("active");
    await expect(row).toContainText("never"); // no expiry

    await expectInstanceList(await listInstances(request, token));
    const refused = await request.post("/api/v1/instances", {
      headers: { authorization: `Bearer ${token}`, accept: "application/json" },
      data: {
        name: "clicks", kafka_version: "3.9.0", deployment: "single_zone", vpc_id: "vpc-0a1b2c3d",
        subnets: ["subnet-0000aaaa"], data_bucket: "acme-kafka-data", wal_mode: "block_volume",
        client_auth: "sasl_scram", transit_encryption: "tls", endpoint_exposure: "vpc", size_aku: 5,
      },
    });
    expect(refused.status(), await refused.text()).toBe(403);
    expect(refused.headers()["content-type"]).toContain("application/problem+json");
    const problem = await refused.json();
    expect(problem.status).toBe(403);
    expect(problem.detail).toContain("needs the operator role");
    // Nothing was created.
    await expectInstanceList(await listInstances(request, token));
  });

  test("rotating shows a new token; the old one stops at once", async ({ page, request }) => {
    await signIn(page, admin.username, admin.password);
    await page.goto("/service-accounts");
    const row = page.locator('[data-testid=service-account-row][data-name="terraform-ci"]');
    await expect(row.getByTestId("service-account-status")).toHaveText("active");
    await hydrated(page);
    await row.getByRole("button", { name: "Rotate" }).click();

    const shown = page.getByTestId("new-token");
    await expect(shown.getByRole("heading")).toHaveText("Token of terraform-ci");
    const value = shown.getByTestId("new-token-value");
    await expect(value).toHaveText(tokenForm);
    await expect(value).not.toHaveText(firstToken);
    rotatedToken = (await value.textContent())!.trim();
    // The same account (the id in the token), a new secret.
    expect(rotatedToken.match(tokenForm)![1]).toBe(firstToken.match(tokenForm)![1]);
    await expect(row.getByTestId("service-account-status")).toHaveText("active");
    await shot(page, "92-service-account-rotated");

    await expectUnauthenticated(await listInstances(request, firstToken));
    await expectInstanceList(await listInstances(request, rotatedToken));
  });

  test("revoking ends the account: its token gets 401", async ({ page, request }) => {
    await signIn(page, admin.username, admin.password);
    await page.goto("/service-accounts");
    const row = page.locator('[data-testid=service-account-row][data-name="terraform-ci"]');
    await expect(row.getByTestId("service-account-status")).toHaveText("active");
    await hydrated(page);
    // A token shown by a rotate on this page leaves with the revoke: it no longer works.
    await row.getByRole("button", { name: "Rotate" }).click();
    const value = page.getByTestId("new-token").getByTestId("new-token-value");
    await expect(value).toHaveText(tokenForm);
    await expect(value).not.toHaveText(rotatedToken);
    const lastToken = (await value.textContent())!.trim();
    await expectInstanceList(await listInstances(request, lastToken));
    await row.getByRole("button", { name: "Revoke" }).click();
    await expect(row.getByTestId("service-account-status")).toHaveText("revoked");
    await expect(page.getByTestId("new-token")).toHaveCount(0);
    await expect(row.getByRole("button")).toHaveCount(0);
    await expect(page.getByTestId("service-accounts-error")).toBeEmpty();
    // The other account is untouched.
    const other = page.locator('[data-testid=service-account-row][data-name="dashboards"]');
    await expect(other.getByTestId("service-account-status")).toHaveText("active");
    await shot(page, "93-service-account-revoked");

    // The account's last token (refused as revoked, under its name), and the earlier ones.
    await expectUnauthenticated(await listInstances(request, lastToken));
    await expectUnauthenticated(await listInstances(request, rotatedToken));
    await expectUnauthenticated(await listInstances(request, firstToken));
    // Still revoked after a full load (the server's list, not only the page's state).
    await page.reload();
    await expect(row.getByTestId("service-account-status")).toHaveText("revoked");
  });

  test("a viewer user sees no link to the page, and the page refuses them", async ({ page }) => {
    await signIn(page, viewer.username, viewer.password);
    // The session has loaded (the admin links come from the same answer) …
    await expect(page.getByTestId("signed-in-role")).toHaveText("viewer");
    const nav = page.getByRole("navigation", { name: "Main" });
    await expect(nav.getByRole("link", { name: "Instances", exact: true })).toBeVisible();
    // … and it has no link to service accounts.
    await expect(nav.getByRole("link", { name: "Service accounts" })).toHaveCount(0);
    await page.goto("/service-accounts");
    await expect(page.locator(".error-page")).toContainText("needs the admin role");
    await expect(page.getByTestId("service-account-table")).toHaveCount(0);
    await expect(page.getByTestId("service-account-row")).toHaveCount(0);
    // The server refuses what the page does not offer.
    const forced = await page.request.post("/api/service_account_create", {
      form: { name: "sneaky", role: "admin", expires: "" },
      headers: { accept: "application/json" },
    });
    expect(forced.status()).toBe(403);
    await shot(page, "94-service-accounts-viewer");
  });

  test("the list works with JavaScript off", async ({ browser }) => {
    const context = await browser.newContext({ javaScriptEnabled: false });
    try {
      const page = await context.newPage();
      await page.goto("/login");
      await page.getByLabel("User name").fill(admin.username);
      await page.getByLabel("Password").fill(admin.password);
      await page.getByRole("button", { name: "Sign in" }).click();
      await expect(page.getByRole("navigation", { name: "Main" })).toBeVisible();
      await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Service accounts", exact: true }).click();
      await expect(page).toHaveURL(/\/service-accounts$/);
      await expect(page.getByRole("heading", { name: "Service accounts", level: 1 })).toBeVisible();
      const rows = page.getByTestId("service-account-row");
      await expect(rows).toHaveCount(2);
      const ci = page.locator('[data-testid=service-account-row][data-name="terraform-ci"]');
      await expect(ci.getByTestId("service-account-role")).toHaveText("operator");
      await expect(ci.getByTestId("service-account-status")).toHaveText("revoked");
      await expect(ci.getByTestId("service-account-last-used")).toContainText("from 127.0.0.1");
      const dashboards = page.locator('[data-testid=service-account-row][data-name="dashboards"]');
      await expect(dashboards.getByTestId("service-account-role")).toHaveText("viewer");
      await expect(dashboards.getByTestId("service-account-status")).toHaveText("active");
      await expect(dashboards.getByRole("button", { name: "Revoke" })).toBeVisible();
      // A new token is shown once, by the page's script (NewTokenNotice): without JavaScript it
      // would be lost unseen, so adding and rotating are not offered; the page says why.
      await expect(dashboards.getByRole("button", { name: "Rotate" })).toHaveCount(0);
      await expect(page.getByTestId("needs-javascript")).toContainText("needs JavaScript");
      await expect(page.getByRole("button", { name: "Add service account" })).toHaveCount(0);
      await expect(page.getByTestId("new-token")).toHaveCount(0);
      await expect(rows).toHaveCount(2);
    } finally {
      await context.close();
    }
  });

  test("the audit log lists the creations, the rotation and the revocation", async ({ page }) => {
    await signIn(page, admin.username, admin.password);
    await page.goto("/audit");
    await expect(page.getByTestId("chain-status")).toContainText("intact");
    const rows = page.getByTestId("audit-row");

    await page.goto("/audit?action=service_account_create");
    await expect(rows).toHaveCount(2);
    // Newest first.
    await expect(rows.nth(0)).toContainText("dashboards");
    await expect(rows.nth(0)).toContainText("role viewer; no expiry");
    await expect(rows.nth(1)).toContainText("terraform-ci");
    await expect(rows.nth(1)).toContainText(`role operator; works until the end of ${expiry}`);
    for (const text of await rows.allTextContents()) expect(text).toContain(admin.username);

    // Two rotations (one in the revoke test), one revocation.
    for (const [action, count] of [["service_account_rotate", 2], ["service_account_revoke", 1]] as const) {
      await page.goto(`/audit?action=${action}`);
      await expect(rows).toHaveCount(count);
      await expect(rows.first()).toContainText(action);
      await expect(rows.first()).toContainText("terraform-ci");
      await expect(rows.first()).toContainText(admin.username);
      await expect(rows.first()).toContainText("success");
    }
    // The revoked token's refused use is on record under the account's name.
    await page.goto("/audit?action=access");
    await expect(page.getByTestId("audit-table")).toContainText("terraform-ci (service account)");
    await shot(page, "95-audit-service-accounts");
  });
});
