// First run, sign-in, the signed-in frame and sign-out, in Chromium, as a person would.
// On a console of its own, fresh: the setup it tests is the first thing done to it.
import * as fs from "node:fs";
import { admin, expect, hydrated, shot, test } from "./helpers";

test.use({ consoleOptions: { name: "01-foundation" } });

fs.mkdirSync("screenshots", { recursive: true });

test.describe.serial("first run and sign-in", () => {
  test("every page leads to setup before the environment exists", async ({ page }) => {
    await page.goto("/instances");
    await expect(page).toHaveURL(/\/setup$/);
    await expect(page.getByRole("heading", { name: "Set up this environment" })).toBeVisible();
    await shot(page, "01-setup");
  });

  test("setup shows live password feedback once hydrated (proves the WASM runs)", async ({ page }) => {
    await page.goto("/setup");
    await hydrated(page);
    const match = page.getByTestId("password-match");
    await expect(match).toBeEmpty();
    await page.getByLabel("Password", { exact: true }).fill(admin.password);
    await page.getByLabel("Password again").fill("Quiet-Harbor");
    await expect(match).toHaveText("Passwords do not match");
    await page.getByLabel("Password again").fill(admin.password);
    await expect(match).toHaveText("Passwords match");
    // The region list narrows to the chosen provider.
    await page.getByLabel("Cloud provider").selectOption("alibaba");
    await expect(page.locator('optgroup[label="Amazon Web Services"]')).toBeDisabled();
    await expect(page.locator('optgroup[label="Alibaba Cloud"]')).toBeEnabled();
  });

  test("setup refuses bad input next to the field, then creates the administrator", async ({ page }) => {
    await page.goto("/setup");
    await hydrated(page);
    await page.getByLabel("User name").fill(admin.username);
    await page.getByLabel("Password", { exact: true }).fill("short");
    await page.getByLabel("Password again").fill("short");
    await page.getByLabel("Environment name").fill("Production");
    await page.getByLabel("Cloud provider").selectOption("aws");
    await page.getByLabel("Region").selectOption("eu-central-1");
    await page.getByRole("button", { name: "Set up" }).click();
    await expect(page.locator("#password-error")).toContainText("at least 12 characters");
    await shot(page, "02-setup-error");

    await page.getByLabel("Password", { exact: true }).fill(admin.password);
    await page.getByLabel("Password again").fill(admin.password);
    await page.getByRole("button", { name: "Set up" }).click();
    await expect(page).toHaveURL(/\/login\?setup=done/);
    await expect(page.getByTestId("setup-done")).toBeVisible();
    await shot(page, "03-login-after-setup");
  });

  test("the setup page is gone after setup", async ({ page }) => {
    await page.goto("/setup");
    await expect(page).toHaveURL(/\/login$/);
  });

  test("a wrong password is refused next to the field", async ({ page }) => {
    await page.goto("/login");
    await hydrated(page);
    await page.getByLabel("User name").fill(admin.username);
    await page.getByLabel("Password").fill("Not-The-Password-1");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect(page.locator("#password-error")).toHaveText("Wrong user name or password.");
    await shot(page, "04-login-error");
  });

  test("sign in, see the frame, sign out", async ({ page }) => {
    await page.goto("/login");
    await hydrated(page);
    await page.getByLabel("User name").fill(admin.username);
    await page.getByLabel("Password").fill(admin.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    // Not activated yet: every page leads to activation.
    await expect(page).toHaveURL(/\/activate$/);
    await expect(page.getByRole("heading", { name: "Activate this environment" })).toBeVisible();
    await expect(page.getByTestId("signed-in-user")).toHaveText("admin");
    await expect(page.getByTestId("signed-in-role")).toHaveText("admin");
    await expect(page.getByRole("navigation", { name: "Main" })).toBeVisible();
    await expect(page).toHaveTitle("Activate · BYOC console");

    await page.goto("/no-such-page");
    await expect(page).toHaveURL(/\/activate$/);

    await hydrated(page);
    await page.getByRole("button", { name: "Sign out" }).click();
    await expect(page).toHaveURL(/\/login$/);
    await page.goto("/");
    await expect(page).toHaveURL(/\/login$/);
  });

  test("sign-in and sign-out work with JavaScript off", async ({ browser }) => {
    const context = await browser.newContext({ javaScriptEnabled: false });
    const page = await context.newPage();
    await page.goto("/login");
    await page.getByLabel("User name").fill(admin.username);
    await page.getByLabel("Password").fill("Not-The-Password-2");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect(page.locator("#password-error")).toHaveText("Wrong user name or password.");
    await page.getByLabel("User name").fill(admin.username);
    await page.getByLabel("Password").fill(admin.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect(page.getByRole("heading", { name: "Activate this environment" })).toBeVisible();
    await page.getByRole("button", { name: "Sign out" }).click();
    await expect(page).toHaveURL(/\/login$/);
    await context.close();
  });
});
