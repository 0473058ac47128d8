// The API reference page (/api/v1/docs/, Swagger UI served from the binary) in Chromium, under
// its own Content-Security-Policy (app/src/rest/openapi.rs, DOCS_POLICY: scripts and styles from
// the console only, nothing inline, no eval; the base layout, without the top bar): it renders every operation of the console's
// document, and a reader who enters a service account's token in "Authorize" can try
// GET /api/v1/environment and sees this console's answer. Neither step may be refused anything
// by the policy (no "Refused to …" message, no securitypolicyviolation event), nor throw.
// On a console of its own, brought through the API to: activated, with a viewer service account
// whose token the reader uses. The page itself is never signed in: the token alone opens the API.
import type { Locator, Page } from "@playwright/test";
import { activate, createServiceAccount, expect, setUp, shot, test } from "./helpers";

test.use({ consoleOptions: { name: "10-api-docs" } });

let installationId = "";
let token = "";

test.beforeAll(async ({ byoc }) => {
  await setUp(byoc);
  installationId = await activate(byoc, ["--billing", "prepaid", "--aku", "300", "--months", "24"]);
  token = await createServiceAccount(byoc, "api-docs-reader", "viewer");
});

/** What the page said and threw, and what its policy refused. */
type Seen = { messages: string[]; errors: string[] };

/** Starts recording the page's console messages, uncaught errors and CSP violations (the
 * violations from a script injected ahead of the page's own; it is not subject to the policy). */
async function watch(page: Page): Promise<Seen> {
  const seen: Seen = { messages: [], errors: [] };
  page.on("console", (message) => seen.messages.push(`[${message.type()}] ${message.text()}`));
  page.on("pageerror", (error) => seen.errors.push(error.stack ?? String(error)));
  await page.addInitScript(() => {
    const found: string[] = [];
    (window as any).__cspViolations = found;
    document.addEventListener("securitypolicyviolation", (e) => {
      found.push(`${e.effectiveDirective} refused ${e.blockedURI || "(inline)"} at ${e.sourceFile}:${e.lineNumber}:${e.columnNumber} ${e.sample}`);
    }, true);
  });
  return seen;
}

/** Nothing refused by the policy, nothing thrown. */
async function expectClean(page: Page, seen: Seen) {
  const violations: string[] = await page.evaluate(() => (window as any).__cspViolations);
  const all = seen.messages.join("\n") || "(no console messages)";
  const refused = seen.messages.filter((m) => /Content Security Policy|Refused to/i.test(m));
  expect(refused, `console messages about the policy (violations: ${violations.join("; ")}); all messages:\n${all}`).toEqual([]);
  expect(violations, "securitypolicyviolation events").toEqual([]);
  expect(seen.errors, `uncaught errors; console messages:\n${all}`).toEqual([]);
}

/** Swagger UI's block of the operation `method path`. */
function operation(page: Page, method: string, path: string): Locator {
  return page.locator(`.opblock.opblock-${method}:has(.opblock-summary-path[data-path="${path}"])`);
}

test.describe.serial("the API reference page", () => {
  test("renders every operation of the document under its policy", async ({ page, request }) => {
    const seen = await watch(page);
    const answer = await page.goto("/api/v1/docs/");
    expect(answer!.status()).toBe(200);
    // The page's own policy, and a strict one: nothing inline, no eval.
    const policy = answer!.headers()["content-security-policy"];
    expect(policy).toContain("default-src 'none'");
    expect(policy).toContain("script-src 'self'");
    expect(policy).toContain("style-src 'self'");
    expect(policy).not.toContain("unsafe");

    await expect(page.locator(".information-container .title")).toContainText("BYOC environment console");
    const list = operation(page, "get", "/api/v1/instances");
    await expect(list).toBeVisible();
    await expect(list.locator(".opblock-summary-method")).toHaveText("GET");
    // Swagger UI's stylesheet applies (a refused one would leave the blocks unstyled): a GET
    // block's border is Swagger UI's blue.
    await expect(list).toHaveCSS("border-top-color", "rgb(97, 175, 254)");

    // Every operation of the document has its block (one under each of its tags).
    const document = await (await request.get("/api/v1/openapi.json")).json();
    const methods = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];
    let blocks = 0;
    for (const item of Object.values<any>(document.paths)) {
      for (const method of methods) if (item[method]) blocks += Math.max(1, item[method].tags?.length ?? 0);
    }
    expect(blocks).toBeGreaterThan(20);
    await expect(page.locator(".opblock")).toHaveCount(blocks);
    await shot(page, "100-api-docs");

    await expectClean(page, seen);
  });

  test("with a service account's token, Try it out on GET /api/v1/environment shows this console's answer", async ({ page, baseURL }) => {
    const seen = await watch(page);
    await page.goto("/api/v1/docs/");
    const environment = operation(page, "get", "/api/v1/environment");
    await expect(environment).toBeVisible();

    // Authorize: the bearer scheme's value is the token.
    await page.locator(".auth-wrapper").getByRole("button", { name: "Authorize" }).click();
    const dialog = page.locator(".dialog-ux .modal-ux");
    await expect(dialog).toBeVisible();
    await dialog.getByRole("textbox", { name: "auth-bearer-value" }).fill(token);
    await dialog.getByRole("button", { name: "Apply credentials" }).click();
    // Applied: the dialog offers to log out, and the operation's lock is closed.
    await expect(dialog.getByRole("button", { name: "Remove authorization" })).toBeVisible();
    await dialog.getByRole("button", { name: "Close" }).click();
    await expect(dialog).toHaveCount(0);
    await expect(environment.getByRole("button", { name: "authorization button locked" })).toBeVisible();

    // Try it out.
    await environment.locator(".opblock-summary").click();
    await environment.getByRole("button", { name: "Try it out" }).click();
    await environment.getByRole("button", { name: "Execute" }).click();

    const live = environment.locator(".live-responses-table tr.response");
    await expect(live.locator(".response-col_status")).toHaveText("200");
    // The request went to this console, with the token.
    await expect(environment.locator(".request-url")).toContainText(`${baseURL}/api/v1/environment`);
    await expect(environment.locator(".curl-command")).toContainText(`Authorization: Bearer ${token}`);
    // The answer is this console's overview.
    const body = live.locator(".response-col_description .highlight-code pre");
    await expect(body).toContainText('"license"');
    const overview = JSON.parse((await body.textContent())!);
    expect(overview.environment_name).toBe("Production");
    expect(overview.installation_id).toBe(installationId);
    expect(overview.license).not.toBeNull();
    await shot(page, "101-api-docs-try-it-out");

    await expectClean(page, seen);
  });
});
