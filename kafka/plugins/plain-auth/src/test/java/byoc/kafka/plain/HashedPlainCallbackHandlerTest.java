package byoc.kafka.plain;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import javax.security.auth.callback.Callback;
import javax.security.auth.callback.NameCallback;
import javax.security.auth.callback.PasswordCallback;
import javax.security.auth.callback.UnsupportedCallbackException;
import javax.security.auth.login.AppConfigurationEntry;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.security.plain.PlainAuthenticateCallback;
import org.apache.kafka.common.security.plain.PlainLoginModule;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HashedPlainCallbackHandlerTest {
  /** Fewer than the console's, so that the tests run fast; the handler takes the line's count. */
  private static final int ITERATIONS = 1000;

  @TempDir Path dir;

  private static String line(String user, String password, byte[] salt) {
    byte[] hash =
        HashedPlainCallbackHandler.derive(password.toCharArray(), salt, ITERATIONS, 64);
    Base64.Encoder b64 = Base64.getEncoder();
    return user + ":pbkdf2-sha512:" + ITERATIONS + ":" + b64.encodeToString(salt) + ":"
        + b64.encodeToString(hash);
  }

  /** Written as the console does: a new file renamed over the old one. */
  private void write(Path file, String... lines) throws Exception {
    Path tmp = file.resolveSibling("plain-users.tmp");
    Files.write(tmp, List.of(lines), StandardCharsets.UTF_8);
    Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }

  private static boolean login(HashedPlainCallbackHandler h, String user, String password)
      throws UnsupportedCallbackException {
    NameCallback name = new NameCallback("User name", user);
    PlainAuthenticateCallback plain = new PlainAuthenticateCallback(password.toCharArray());
    h.handle(new Callback[] {name, plain});
    return plain.authenticated();
  }

  private static AppConfigurationEntry jaas(Map<String, ?> options) {
    return new AppConfigurationEntry(
        PlainLoginModule.class.getName(),
        AppConfigurationEntry.LoginModuleControlFlag.REQUIRED,
        options);
  }

  @Test
  void pbkdf2HmacSha512MatchesAKnownVector() {
    // PBKDF2-HMAC-SHA512("password", "salt", 1 iteration, 64 bytes), RFC 6070's inputs; the
    // same value the console's Rust side (the pbkdf2 crate) gives.
    byte[] out = HashedPlainCallbackHandler.derive(
        "password".toCharArray(), "salt".getBytes(StandardCharsets.UTF_8), 1, 64);
    assertEquals(
        "867f70cf1ade02cff3752599a3a53dc4af34c7a669815ae5d513554e1c8cf252"
            + "c02d470a285a0501bad999bfe943c08f050235d7d68b1da55e63f73b60a57fce",
        HexFormat.of().formatHex(out));
  }

  @Test
  void theRightPasswordLogsInAWrongOneOrAnUnknownUserDoesNot() throws Exception {
    Path file = dir.resolve("plain-users");
    write(file, "# byoc plain users", line("alice", "s3cret", new byte[] {1, 2, 3, 4, 5, 6, 7, 8}),
        line("bob", "other", new byte[] {8, 7, 6, 5, 4, 3, 2, 1}));
    List<String> warnings = new ArrayList<>();
    HashedPlainCallbackHandler h = new HashedPlainCallbackHandler(file, warnings::add);
    assertTrue(login(h, "alice", "s3cret"));
    assertTrue(login(h, "bob", "other"));
    assertFalse(login(h, "alice", "s3creT"));
    assertFalse(login(h, "alice", "other"), "another user's password");
    assertFalse(login(h, "alice", ""));
    assertFalse(login(h, "carol", "s3cret"), "unknown user");
    assertTrue(warnings.isEmpty(), warnings.toString());
  }

  @Test
  void aChangedFileIsReadAgainAtTheNextLogin() throws Exception {
    Path file = dir.resolve("plain-users");
    byte[] salt = {9, 9, 9, 9, 9, 9, 9, 9};
    write(file, line("alice", "one", salt));
    HashedPlainCallbackHandler h = new HashedPlainCallbackHandler(file, w -> {});
    assertTrue(login(h, "alice", "one"));
    // Rotated: the old password stops working, the new one works, with no restart.
    write(file, line("alice", "two", salt), line("dave", "four", salt));
    assertFalse(login(h, "alice", "one"));
    assertTrue(login(h, "alice", "two"));
    assertTrue(login(h, "dave", "four"));
    // Deleted.
    write(file, line("dave", "four", salt));
    assertFalse(login(h, "alice", "two"));
    assertTrue(login(h, "dave", "four"));
    // The file gone: nobody.
    Files.delete(file);
    assertFalse(login(h, "dave", "four"));
  }

  @Test
  void aMalformedLineIsIgnoredWithAWarningAndTheOthersServe() throws Exception {
    Path file = dir.resolve("plain-users");
    byte[] salt = {1, 1, 1, 1, 1, 1, 1, 1};
    write(file,
        "garbage without fields",
        "eve:md5:1000:AAAAAAAAAAA=:AAAA",
        "mallory:pbkdf2-sha512:notanumber:AAAAAAAAAAA=:AAAA",
        "oscar:pbkdf2-sha512:1000:!!!:AAAA",
        line("alice", "pw", salt),
        line("alice", "other", salt),
        "",
        line("bob", "pw2", salt));
    List<String> warnings = new ArrayList<>();
    HashedPlainCallbackHandler h = new HashedPlainCallbackHandler(file, warnings::add);
    assertTrue(login(h, "alice", "pw"), "the first line of a name counts");
    assertFalse(login(h, "alice", "other"));
    assertTrue(login(h, "bob", "pw2"));
    assertFalse(login(h, "eve", "x"));
    assertEquals(5, warnings.size(), warnings.toString());
    assertTrue(warnings.get(0).contains("line 1 ignored"), warnings.get(0));
    assertTrue(warnings.get(1).contains("line 2 ignored: unknown scheme"), warnings.get(1));
    assertTrue(warnings.get(4).contains("line 6 ignored: user named twice"), warnings.get(4));
    // No warning repeats while the file is unchanged.
    assertTrue(login(h, "bob", "pw2"));
    assertEquals(5, warnings.size());
  }

  @Test
  void configureTakesTheFileFromTheJaasOptionAndRefusesOtherMechanisms() throws Exception {
    Path file = dir.resolve("plain-users");
    write(file, line("alice", "pw", new byte[] {3, 3, 3, 3, 3, 3, 3, 3}));
    HashedPlainCallbackHandler h = new HashedPlainCallbackHandler();
    h.configure(Map.of(), "PLAIN", List.of(jaas(Map.of("byoc.users.file", file.toString()))));
    assertTrue(login(h, "alice", "pw"));
    assertFalse(login(h, "alice", "nope"));
    assertThrows(KafkaException.class,
        () -> new HashedPlainCallbackHandler().configure(Map.of(), "PLAIN", List.of(jaas(Map.of()))));
    assertThrows(KafkaException.class,
        () -> new HashedPlainCallbackHandler()
            .configure(Map.of(), "SCRAM-SHA-512", List.of(jaas(Map.of("byoc.users.file", "x")))));
    assertThrows(UnsupportedCallbackException.class,
        () -> h.handle(new Callback[] {new PasswordCallback("p", false)}));
  }
}
