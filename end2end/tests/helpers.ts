// What the browser tests share: waiting for hydration, signing in, screenshots, and product
// keys minted with the vendor command line.
import { type Page } from "@playwright/test";
import { execFileSync } from "node:child_process";
import * as path from "node:path";
import { server } from "../playwright.config";

export const admin = { username: "admin", password: "Quiet-Harbor-Lamp-42" };

/** Waits until the WASM has hydrated the page (the hydrate() entry has run). */
export async function hydrated(page: Page) {
  await page.waitForFunction(() => (window as any).__BYOC_HYDRATED__ === true);
}

export async function signIn(page: Page, username = admin.username, password = admin.password) {
  await page.goto("/login");
  await hydrated(page);
  await page.getByLabel("User name").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL((url) => url.pathname !== "/login");
}

export async function shot(page: Page, name: string) {
  await page.screenshot({ path: `screenshots/${name}.png`, fullPage: true });
}

/** A product key from the vendor command line, signed with the key in `vendorDir`, as the
 * vendor would send it. */
export function mintKey(vendorDir: string, installationId: string, args: string[]): string {
  const out = execFileSync(
    path.resolve(__dirname, "..", server),
    [
      "vendor", "issue",
      "--signing-key", path.resolve(__dirname, "..", vendorDir, "signing-key.json"),
      "--installation-id", installationId,
      "--customer", "Acme Streaming",
      ...args,
    ],
    { encoding: "utf8", env: { ...process.env, RUST_LOG: "error" } },
  );
  const lines = out.trim().split("\n");
  return lines[lines.length - 1];
}
