// Cross-site request forgery, in Chromium: a page on another origin (http://127.0.0.2, served
// by Playwright's router, so no second server is needed) auto-submits a form to every
// mutating endpoint of the console, and fetches it, while an admin is signed in in the same
// browser. Every one is refused, and nothing changes.
// On a console of its own, brought through the API to what the earlier files leave:
// activated, with a running instance (orders, id 1; the attacks name it).
import { type Page } from "@playwright/test";
import { activate, admin, createInstance, expect, setUp, signIn, test } from "./helpers";

test.use({ consoleOptions: { name: "05-cross-site" } });

test.beforeAll(async ({ byoc }) => {
  await setUp(byoc);
  await activate(byoc, ["--billing", "prepaid", "--aku", "300", "--months", "24"]);
  expect(await createInstance(byoc, { name: "orders", size_aku: "10" })).toBe(1);
});

/** What the endpoints could change, read through the console's own origin. */
async function snapshot(page: Page): Promise<string> {
  const parts: string[] = [];
  for (const endpoint of ["/api/instances", "/api/users", "/api/license", "/api/session"]) {
    const response = await page.request.post(endpoint, { headers: { accept: "application/json" } });
    expect(response.status(), endpoint).toBe(200);
    const body = await response.json();
    // Progress of running operations moves by itself; the rest must not.
    if (body.instances) for (const i of body.instances) delete i.progress;
    parts.push(JSON.stringify(body));
  }
  return parts.join("\n");
}

const attacks: [string, Record<string, string>][] = [
  ["instance_create", {
    name: "forged", description: "", kafka_version: "3.9.0", deployment: "single_zone",
    vpc_id: "vpc-0a1b2c3d", subnet_1: "subnet-0000aaaa", data_bucket: "evil-bucket",
    wal_mode: "block_volume", client_auth: "sasl_scram", transit_encryption: "tls",
    endpoint_exposure: "vpc", size_aku: "3",
  }],
  ["instance_scale", { id: "1", size_aku: "4" }],
  ["instance_delete", { id: "1", confirm_name: "orders" }],
  ["instance_retry", { id: "1" }],
  ["user_create", { username: "mallory", role: "admin", password: "Forged-Password-Lamp-99", password_confirm: "Forged-Password-Lamp-99" }],
  ["user_role", { id: "1", role: "viewer" }],
  ["user_disable", { id: "1", disabled: "true" }],
  ["user_reset_password", { id: "1", password: "Forged-Password-Lamp-99", password_confirm: "Forged-Password-Lamp-99" }],
  ["password_change", { current_password: admin.password, new_password: "Forged-Password-Lamp-99", new_password_confirm: "Forged-Password-Lamp-99" }],
  ["license_apply", { key: "BYOC1.forged.forged" }],
  ["setup", { username: "mallory", password: "Forged-Password-Lamp-99", password_confirm: "Forged-Password-Lamp-99", environment_name: "Evil", cloud_provider: "aws", region: "us-east-1" }],
  ["logout", {}],
];

function evilPage(baseURL: string, endpoint: string, form: Record<string, string>): string {
  const inputs = Object.entries(form)
    .map(([k, v]) => `<input type="hidden" name="${k}" value="${v}">`)
    .join("");
  const body = new URLSearchParams(form).toString();
  return `<!doctype html><html><body>
    <script>
      fetch(${JSON.stringify(`${baseURL}/api/${endpoint}`)}, {
        method: "POST", mode: "no-cors", credentials: "include",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: ${JSON.stringify(body)},
      }).finally(() => document.forms[0].submit());
    </script>
    <form method="POST" action="${baseURL}/api/${endpoint}">${inputs}</form>
  </body></html>`;
}

test("forged cross-site posts to every mutating endpoint are refused and change nothing", async ({ page, baseURL }) => {
  const evilOrigin = baseURL!.replace("127.0.0.1", "127.0.0.2");
  await signIn(page);
  const before = await snapshot(page);
  for (const [endpoint, form] of attacks) {
    await page.route(`${evilOrigin}/**`, (route) =>
      route.fulfill({ contentType: "text/html", body: evilPage(baseURL!, endpoint, form) }),
    );
    const submitted = page.waitForResponse(
      (r) => r.url() === `${baseURL}/api/${endpoint}` && r.request().resourceType() === "document",
    );
    await page.goto(`${evilOrigin}/win-a-prize`);
    const response = await submitted;
    expect(response.status(), endpoint).toBe(403);
    expect(await response.text(), endpoint).toContain("came from another site");
    await page.unroute(`${evilOrigin}/**`);
    expect(await snapshot(page), `${endpoint} changed something`).toBe(before);
  }
  // The admin is still signed in (the forged sign-out did nothing either).
  await page.goto("/");
  await expect(page.getByTestId("signed-in-user")).toHaveText(admin.username);
});
