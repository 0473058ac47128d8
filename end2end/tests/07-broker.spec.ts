// A real, secured Kafka endpoint behind an instance, in Chromium, on a console of its own with
// Kafka clusters (three JVM nodes per instance, on the ports of playwright.config.ts'
// kafkaPorts, stopped with the console): create with the defaults (SASL/SCRAM
// over TLS), wait for running, download the CA certificate through its link, create a Kafka
// user and copy its client.properties, create a topic, produce with a real client
// (confluent-kafka) from those files and watch the topic's offsets and the traffic move; an
// anonymous plaintext client is refused, and so is the user once deleted; delete the topic
// (typed confirmation), then the instance.
// The console is set up and activated (100 AKU) through the API first (the pages for that are
// tested in 01-foundation.spec.ts and 02-license.spec.ts).
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { activate, expect, hydrated, setUp, shot, signIn, test } from "./helpers";

const clientPy = path.resolve(__dirname, "..", "..", "tests", "kafka", "client.py");

/** Runs the Kafka client; fails the test (with the client's stderr) when it fails. Its
 * stdout, trimmed. */
function kafkaClient(args: string[]): string {
  return execFileSync("python3", [clientPy, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
}

/** Runs the Kafka client, failing or not: its exit code and stdout (trimmed). */
function kafkaClientRun(args: string[]): { status: number | null; out: string } {
  const run = spawnSync("python3", [clientPy, ...args], { encoding: "utf8", timeout: 30_000 });
  return { status: run.status, out: `${run.stdout ?? ""}`.trim() };
}

test.use({ consoleOptions: { name: "07-broker", provisioner: "kafka" } });

test.beforeAll(async ({ byoc }) => {
  await setUp(byoc, { environment_name: "Broker demo" });
  await activate(byoc, ["--billing", "prepaid", "--aku", "100", "--months", "12"]);
});

test("a secured Kafka cluster: SCRAM user and CA, topic, produce, offsets and traffic, messages, refusals, deletes", async ({ page, context, baseURL, browser }, testInfo) => {
  // A cluster's start (three JVMs, a quorum) and its stop take most of it.
  test.setTimeout(420_000);
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: baseURL });
  // The client's files: the CA certificate and client.properties, side by side.
  const clientDir = testInfo.outputPath("kafka-client");
  fs.mkdirSync(clientDir, { recursive: true });

  await signIn(page);

  // Create: the default is SASL/SCRAM over TLS; every client authentication is offered (PLAIN
  // through the console's hash handler, mutual TLS with per-user certificates); only the
  // internet exposure is not, on a host without a public address, and the note says why.
  await page.goto("/instances/new");
  await hydrated(page);
  const auth = page.getByLabel("Client authentication");
  const transit = page.getByLabel("Transit encryption");
  const exposure = page.getByLabel("Endpoint exposure");
  await expect(auth).toHaveValue("sasl_scram");
  await expect(transit).toHaveValue("tls");
  await expect(exposure).toHaveValue("vpc");
  expect(await auth.locator("option").evaluateAll((options) => options.map((o) => (o as HTMLOptionElement).value)))
    .toEqual(["sasl_scram", "sasl_plain", "mtls", "anonymous"]);
  for (const on of ["sasl_scram", "sasl_plain", "mtls", "anonymous"]) {
    await expect(auth.locator(`option[value="${on}"]`)).toBeEnabled();
  }
  await expect(transit.locator('option[value="tls"]')).toBeEnabled();
  await expect(transit.locator('option[value="plaintext"]')).toBeEnabled();
  await expect(exposure.locator('option[value="internet"]')).toBeDisabled();
  await expect(exposure.locator('option[value="internet"]')).toContainText("(not available on this host)");
  const note = page.getByTestId("security-note");
  await expect(note).toBeVisible();
  await expect(note).toContainText("no public address");
  await expect(note).not.toContainText("not offered yet");
  await page.getByLabel("Name", { exact: true }).fill("clicks-live");
  await page.getByLabel("VPC ID").fill("vpc-0a1b2c3d");
  await page.getByLabel("Subnet (zone 1)").fill("subnet-0000aaaa");
  await page.getByLabel("Data bucket").fill("acme-kafka-data");
  await page.getByRole("button", { name: "Create instance" }).click();
  await page.waitForURL(/\/instances\/\d+$/);
  await expect(page.getByTestId("instance-state").first()).toHaveText("running", { timeout: 240_000 });

  // Connect panel: SASL_SSL, the bootstrap list (one address per node), and the CA
  // certificate downloaded through its link.
  await page.reload();
  await hydrated(page);
  const bootstrap = (await page.getByTestId("connect-bootstrap").textContent())!.trim();
  expect(bootstrap).toMatch(/^127\.0\.0\.1:\d+,127\.0\.0\.1:\d+,127\.0\.0\.1:\d+$/);
  await expect(page.getByTestId("connect-protocol")).toHaveText("SASL_SSL");
  await expect(page.getByTestId("connect-security")).toContainText("SASL/SCRAM");
  const properties = page.getByTestId("client-properties");
  await expect(properties).toContainText(`bootstrap.servers=${bootstrap}`);
  await expect(properties).toContainText("security.protocol=SASL_SSL");
  await expect(properties).toContainText("sasl.username=USERNAME");
  await expect(properties).toContainText("sasl.password=PASSWORD");
  await expect(properties).toContainText("ssl.ca.location=byoc-ca.pem");
  const caLink = page.getByTestId("ca-download");
  await expect(caLink).toHaveAttribute("href", "/kafka/ca.pem");
  await expect(caLink).toHaveAttribute("download", "byoc-ca.pem");
  const downloading = page.waitForEvent("download");
  await caLink.click();
  const download = await downloading;
  expect(download.suggestedFilename()).toBe("byoc-ca.pem");
  const caFile = path.join(clientDir, "byoc-ca.pem");
  await download.saveAs(caFile);
  expect(fs.readFileSync(caFile, "utf8")).toMatch(/^-----BEGIN CERTIFICATE-----\n[\s\S]+-----END CERTIFICATE-----\n?$/);

  // Kafka users: the console reaches the nodes with its own certificate on their internal
  // listener, so it has no SCRAM user to list; its name and the nodes' are not for clients.
  const users = page.getByTestId("kafka-users");
  await expect(users.locator('[data-testid="kafka-user-row"]')).toHaveCount(0);
  await users.getByLabel("New user").fill("byoc-console");
  await users.getByTestId("kafka-user-submit").click();
  await expect(users.getByTestId("kafka-username-error")).toContainText("console's own user");
  await users.getByLabel("New user").fill("broker");
  await users.getByTestId("kafka-user-submit").click();
  await expect(users.getByTestId("kafka-username-error")).toContainText("Kafka gives its own principals");

  // A user of our own: its password shown once, with complete settings to copy.
  await users.getByLabel("New user").fill("clicks-app");
  await users.getByLabel("Mechanism").selectOption("SCRAM-SHA-512");
  await users.getByTestId("kafka-user-submit").click();
  const created = page.getByTestId("new-kafka-user");
  await expect(created).toBeVisible();
  await expect(created.getByTestId("new-kafka-username")).toHaveText("clicks-app");
  await expect(created.getByTestId("new-kafka-applied")).not.toContainText("not yet");
  await expect(users.locator('[data-testid="kafka-user-row"][data-user="clicks-app"]')).toBeVisible();
  const password = (await created.getByTestId("new-kafka-password").textContent())!.trim();
  expect(password.length).toBeGreaterThanOrEqual(16);
  await created.getByTestId("copy-kafka-password").click();
  await expect(created.getByTestId("copy-kafka-password")).toHaveText("Copied");
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(password);
  const block = created.getByTestId("new-user-properties");
  const blockText = (await block.textContent())!;
  for (const line of [
    `bootstrap.servers=${bootstrap}`,
    "security.protocol=SASL_SSL",
    "sasl.mechanism=SCRAM-SHA-512",
    "sasl.username=clicks-app",
    `sasl.password=${password}`,
    `sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="clicks-app" password="${password}";`,
    "ssl.ca.location=byoc-ca.pem",
    "ssl.truststore.type=PEM",
    "ssl.truststore.location=byoc-ca.pem",
    "acks=all",
  ]) {
    expect(blockText.split("\n")).toContain(line);
  }
  // The block's own copy button (its label turns to "Copied").
  const copyBlock = created.locator(".copy-block", { has: page.getByTestId("new-user-properties") }).getByRole("button");
  await copyBlock.click();
  await expect(copyBlock).toHaveText("Copied");
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  expect(copied).toBe(blockText);
  const propertiesFile = path.join(clientDir, "client.properties");
  fs.writeFileSync(propertiesFile, copied);

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

  // Access rules: a new user may do nothing, and the page says so; its produce is refused.
  const acls = page.getByTestId("kafka-acls");
  await expect(acls.getByTestId("kafka-acl-none")).toContainText("clicks-app");
  expect(kafkaClient(["--properties", propertiesFile, "produce", "-", "clicks", "5"])).toBe("0");
  // A preset in the page: produce to the topics starting with "click".
  const presetForm = acls.getByTestId("kafka-acl-preset-form");
  await presetForm.getByLabel("User").selectOption("clicks-app");
  await presetForm.getByLabel("Preset").selectOption("produce");
  await presetForm.getByLabel("Topic", { exact: true }).fill("click");
  await presetForm.getByLabel("Topic matches").selectOption("prefixed");
  await presetForm.getByTestId("kafka-acl-preset-submit").click();
  const aclRows = acls.locator('[data-testid="kafka-acl-row"][data-user="clicks-app"]');
  await expect(aclRows).toHaveCount(2);
  await expect(aclRows.first()).toContainText("allow write on topics starting with click from any host");
  await expect(acls.getByTestId("kafka-acl-result")).toContainText("written to the cluster");
  await expect(acls.getByTestId("kafka-acl-none")).toHaveCount(0);

  // A real client logs in with the copied settings and the downloaded CA and produces; the
  // page follows without a reload.
  expect(kafkaClient(["--properties", propertiesFile, "auth", "-"])).toBe("ok");
  expect(kafkaClient(["--properties", propertiesFile, "produce", "-", "clicks", "500"])).toBe("500");
  await expect(row.getByTestId("topic-offset")).toHaveText("500", { timeout: 20_000 });
  await expect(page.getByTestId("traffic-messages-in")).toHaveText("500", { timeout: 20_000 });
  await expect(page.getByTestId("traffic-in")).toContainText("write capacity");
  await shot(page, "70-broker-instance");

  // The message browser, JavaScript on: a JSON, a text and a binary value written by a real
  // client with the user's settings, read newest first from partition 1, shown as asked.
  expect(kafkaClient(["--properties", propertiesFile, "mixed", "-", "clicks", "1"])).toBe("3");
  const browser_ = page.getByTestId("messages-panel");
  await expect(browser_.getByTestId("browsing-state")).toHaveAttribute("data-enabled", "true");
  const readForm = browser_.getByTestId("messages-form");
  await readForm.getByLabel("Topic").fill("clicks");
  await readForm.getByLabel("Partition").fill("1");
  await readForm.getByLabel("Show values as").selectOption("json");
  await readForm.getByTestId("messages-read").click();
  const messageRows = browser_.getByTestId("message-row");
  await expect(messageRows.first().getByTestId("message-value")).toContainText("00 ff 10 80");
  await expect(messageRows.nth(1).getByTestId("message-value")).toHaveText("hello world");
  await expect(messageRows.nth(2).getByTestId("message-value")).toContainText('"paid": true');
  await expect(messageRows.nth(2)).toContainText("source");
  expect(page.url()).toContain("messages=clicks");
  // A bad offset is refused next to its field.
  await readForm.getByLabel("From").selectOption("offset");
  await readForm.getByLabel("Offset or time").fill("99999");
  await readForm.getByTestId("messages-read").click();
  await expect(browser_.getByTestId("messages-at-error")).toContainText("99999");
  await shot(page, "71-message-browser");
  // JavaScript off: the read in the URL, served whole; values in hex.
  const noScript = await browser.newContext({ javaScriptEnabled: false, baseURL, storageState: await context.storageState() });
  const plainPage = await noScript.newPage();
  const instancePath = new URL(page.url()).pathname;
  await plainPage.goto(`${instancePath}?messages=clicks&partition=1&limit=3&format=hex`);
  const plainRows = plainPage.getByTestId("message-row");
  await expect(plainRows).toHaveCount(3);
  await expect(plainRows.nth(1).getByTestId("message-value")).toHaveText("68 65 6c 6c 6f 20 77 6f 72 6c 64");
  await expect(plainRows.nth(2).getByTestId("message-key")).toHaveText("6f 72 64 65 72 2d 31");
  await noScript.close();

  // Without credentials and TLS, a client is refused.
  const anonymous = kafkaClientRun(["auth", bootstrap]);
  expect(anonymous.out).toMatch(/^refused: /);
  expect(anonymous.status).toBe(3);

  // Retention: a bad value is refused next to its field; a good one shows in the list.
  const retentionForm = page.getByTestId("topic-retention-form");
  await retentionForm.getByLabel("Change retention of").selectOption("clicks");
  await retentionForm.getByLabel("Hours, or forever").fill("0");
  await retentionForm.getByTestId("topic-retention-submit").click();
  await expect(retentionForm.getByTestId("topic-retention-error")).toContainText("whole number of hours");
  await expect(row.getByTestId("topic-retention")).toContainText("the broker's default");
  await retentionForm.getByLabel("Hours, or forever").fill("forever");
  await retentionForm.getByTestId("topic-retention-submit").click();
  await expect(row.getByTestId("topic-retention")).toHaveText("forever");

  // A new password: shown once and different; the old settings stop logging in, the new
  // ones (written as the page shows them) do.
  const appRow = users.locator('[data-testid="kafka-user-row"][data-user="clicks-app"]');
  await appRow.getByTestId("kafka-user-rotate").getByRole("button", { name: "New password" }).click();
  await expect(created.getByTestId("new-kafka-password")).not.toHaveText(password);
  const rotated = (await created.getByTestId("new-kafka-password").textContent())!.trim();
  await expect.poll(() => {
    const run = kafkaClientRun(["--properties", propertiesFile, "auth", "-"]);
    return `${run.status} ${run.out}`;
  }, { timeout: 15_000, intervals: [250, 500, 1000] }).toMatch(/^3 refused: .*(AUTHENTICATION|[Aa]uthentication)/);
  const rotatedText = (await created.getByTestId("new-user-properties").textContent())!;
  expect(rotatedText.split("\n")).toContain(`sasl.password=${rotated}`);
  fs.writeFileSync(propertiesFile, rotatedText);
  expect(kafkaClient(["--properties", propertiesFile, "auth", "-"])).toBe("ok");

  // Deleting the user in the page: its settings stop logging in (new logins at once; open
  // sessions at their next re-authentication).
  await appRow.getByTestId("kafka-user-delete").getByRole("button", { name: "Delete" }).click();
  await expect(users.getByTestId("kafka-user-deleted")).toContainText("User deleted");
  await expect(appRow).toHaveCount(0);
  await expect.poll(() => {
    const run = kafkaClientRun(["--properties", propertiesFile, "auth", "-"]);
    return `${run.status} ${run.out}`;
  }, { timeout: 15_000, intervals: [250, 500, 1000] }).toMatch(/^3 refused: .*(AUTHENTICATION|[Aa]uthentication)/);

  // Deleting the topic needs its name typed again.
  const deleteForm = page.getByTestId("topic-delete-form");
  await deleteForm.getByLabel("Delete a topic").selectOption("clicks");
  await deleteForm.getByLabel("Type its name to confirm").fill("click");
  await deleteForm.getByTestId("topic-delete-submit").click();
  await expect(deleteForm.getByTestId("topic-delete-error")).toContainText("Type the topic's name, clicks");
  await expect(row).toBeVisible();
  await deleteForm.getByLabel("Type its name to confirm").fill("clicks");
  await deleteForm.getByTestId("topic-delete-submit").click();
  await expect(row).toHaveCount(0);
  await expect(page.getByTestId("no-topics")).toBeVisible();

  // Delete: every node stops.
  await page.getByLabel("Instance name").fill("clicks-live");
  await page.getByRole("button", { name: "Delete instance" }).click();
  await expect(page.getByTestId("instance-state").first()).toHaveText("deleted", { timeout: 120_000 });
});
