// A real Kafka endpoint behind an instance, in Chromium, on the second console (the broker
// provisioner: one nisshi process per instance): create, wait for running, copy the bootstrap
// address from the Connect panel, create a topic, produce with a real client
// (confluent-kafka) and watch the topic's offsets and the traffic move; then delete.
import { test, expect } from "@playwright/test";
import { execFileSync } from "node:child_process";
import path from "node:path";
import { brokerURL, brokerVendorDir } from "../playwright.config";
import { admin, hydrated, mintKey, shot } from "./helpers";

function kafkaClient(args: string[]): string {
  return execFileSync("python3", [path.resolve(__dirname, "..", "..", "tests", "kafka", "client.py"), ...args], {
    encoding: "utf8",
  }).trim();
}

test.use({ baseURL: brokerURL });

test("a real broker: connect, create a topic, produce, see offsets and traffic move", async ({ page, context }) => {
  test.setTimeout(120_000);
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: brokerURL });
  // Set up and activate this second console (the pages for that are tested on the first).
  const setup = await page.request.post("/api/setup", {
    form: {
      username: admin.username, password: admin.password, password_confirm: admin.password,
      environment_name: "Broker demo", cloud_provider: "aws", region: "eu-central-1",
    },
  });
  expect(setup.status()).toBe(200);
  await page.goto("/login");
  await hydrated(page);
  await page.getByLabel("User name").fill(admin.username);
  await page.getByLabel("Password").fill(admin.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL((url) => url.pathname !== "/login");
  await page.goto("/activate");
  const installationId = (await page.getByTestId("installation-id").textContent())!.trim();
  const applied = await page.request.post("/api/license_apply", { form: { key: mintKey(brokerVendorDir, installationId, ["--billing", "prepaid", "--aku", "100", "--months", "12"]) } });
  expect(applied.status()).toBe(200);

  // Create: the form offers only the security this broker enforces.
  await page.goto("/instances/new");
  await hydrated(page);
  // SASL/SCRAM and TLS are the defaults now; this test drives an anonymous, plaintext one
  // (the secured path is tested with real clients in tests/kafka_security.rs).
  await expect(page.getByTestId("security-note")).toBeVisible();
  await expect(page.getByLabel("Client authentication")).toHaveValue("sasl_scram");
  await expect(page.getByLabel("Transit encryption")).toHaveValue("tls");
  await page.getByLabel("Client authentication").selectOption("anonymous");
  await page.getByLabel("Transit encryption").selectOption("plaintext");
  await page.getByLabel("Name", { exact: true }).fill("clicks-live");
  await page.getByLabel("VPC ID").fill("vpc-0a1b2c3d");
  await page.getByLabel("Subnet (zone 1)").fill("subnet-0000aaaa");
  await page.getByLabel("Data bucket").fill("acme-kafka-data");
  await page.getByRole("button", { name: "Create instance" }).click();
  await page.waitForURL(/\/instances\/\d+$/);
  await expect(page.getByTestId("instance-state").first()).toHaveText("running", { timeout: 30_000 });

  // Connect panel: the bootstrap address, copied with the button.
  await page.reload();
  await hydrated(page);
  const bootstrap = (await page.getByTestId("connect-bootstrap").textContent())!.trim();
  expect(bootstrap).toMatch(/^127\.0\.0\.1:196[67]\d$/);
  await expect(page.getByTestId("connect-protocol")).toHaveText("PLAINTEXT");
  await expect(page.getByTestId("client-properties")).toContainText(`bootstrap.servers=${bootstrap}`);
  await page.getByTestId("copy-bootstrap").click();
  await expect(page.getByTestId("copy-bootstrap")).toHaveText("Copied");
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  expect(copied).toBe(bootstrap);
  await expect(page.getByTestId("kafka-users")).toHaveCount(0);

  // Topics: a bad name is refused next to the field; a good one appears.
  await page.getByLabel("New topic").fill("bad/name");
  await page.getByTestId("topic-submit").click();
  await expect(page.getByTestId("topic-error")).toContainText("'/' is not allowed");
  await page.getByLabel("New topic").fill("clicks");
  await page.getByLabel("Partitions").fill("2");
  await page.getByTestId("topic-submit").click();
  const row = page.locator('[data-testid="topic-row"][data-topic="clicks"]');
  await expect(row).toBeVisible();
  await expect(row.getByTestId("topic-offset")).toHaveText("0");

  // A real client produces with the copied address; the page follows without a reload.
  expect(kafkaClient(["produce", copied, "clicks", "500"])).toBe("500");
  await expect(row.getByTestId("topic-offset")).toHaveText("500", { timeout: 20_000 });
  await expect(page.getByTestId("traffic-messages-in")).toHaveText("500", { timeout: 20_000 });
  await expect(page.getByTestId("traffic-in")).toContainText("write capacity");
  await shot(page, "70-broker-instance");

  // Delete: the broker stops and its port is free.
  await page.getByLabel("Instance name").fill("clicks-live");
  await page.getByRole("button", { name: "Delete instance" }).click();
  await expect(page.getByTestId("instance-state").first()).toHaveText("deleted", { timeout: 30_000 });
});
