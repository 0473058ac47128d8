package byoc.kafka.plain;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Consumer;
import javax.crypto.SecretKeyFactory;
import javax.crypto.spec.PBEKeySpec;
import javax.security.auth.callback.Callback;
import javax.security.auth.callback.NameCallback;
import javax.security.auth.callback.UnsupportedCallbackException;
import javax.security.auth.login.AppConfigurationEntry;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.security.auth.AuthenticateCallbackHandler;
import org.apache.kafka.common.security.plain.PlainAuthenticateCallback;
import org.apache.kafka.common.security.plain.PlainLoginModule;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * SASL/PLAIN on the server without a plaintext password anywhere: each login is checked against
 * a salted PBKDF2-HMAC-SHA512 hash that the console writes, one user a line, into a file
 * (owner-only) in the node's directory. The file is named by the JAAS option {@value
 * #USERS_FILE_OPTION} of the listener's {@code PlainLoginModule}:
 *
 * <pre>
 * listener.name.client.plain.sasl.server.callback.handler.class=byoc.kafka.plain.HashedPlainCallbackHandler
 * listener.name.client.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required byoc.users.file="/node/plain-users";
 * </pre>
 *
 * <p>A line of the file: {@code NAME:pbkdf2-sha512:ITERATIONS:SALT:HASH}, salt and hash in
 * standard base64, the hash PBKDF2-HMAC-SHA512 of the password's UTF-8 bytes. Blank lines and
 * lines starting with {@code #} are skipped; any other line that does not parse is ignored with a
 * warning (never the line itself: it names a hash). The file is read again when its modification
 * time, size or inode changes (the console replaces it whole, by rename), checked at every
 * authentication, so a new, rotated or deleted user takes effect at the next login or
 * re-authentication without a restart. A missing file means no user logs in.
 *
 * <p>The comparison is constant-time ({@link MessageDigest#isEqual}), and an unknown user costs
 * the same derivation as a known one, so neither the timing of a refusal nor its message tells
 * which user names exist.
 */
public class HashedPlainCallbackHandler implements AuthenticateCallbackHandler {
  public static final String USERS_FILE_OPTION = "byoc.users.file";
  public static final String SCHEME = "pbkdf2-sha512";
  /** Lines with more iterations than this are refused as malformed (a login must stay fast). */
  static final int MAX_ITERATIONS = 10_000_000;
  /** What an unknown user's derivation costs: the console's iteration count. */
  static final int DUMMY_ITERATIONS = 100_000;

  private static final Logger LOG = LoggerFactory.getLogger(HashedPlainCallbackHandler.class);
  private static final byte[] DUMMY_SALT = new byte[16];

  private Path file;
  private Consumer<String> warn = LOG::warn;
  private FileVersion loaded;
  private Map<String, Entry> users = Map.of();

  /** One user's hash. */
  record Entry(int iterations, byte[] salt, byte[] hash) {}

  /** What identifies one version of the file on disk. */
  private record FileVersion(Object key, long modified, long size) {}

  public HashedPlainCallbackHandler() {}

  /** For tests: a handler of {@code file}, warnings to {@code warn}. */
  HashedPlainCallbackHandler(Path file, Consumer<String> warn) {
    this.file = Objects.requireNonNull(file);
    this.warn = Objects.requireNonNull(warn);
  }

  @Override
  public void configure(
      Map<String, ?> configs, String saslMechanism, List<AppConfigurationEntry> jaasConfigEntries) {
    if (!"PLAIN".equals(saslMechanism)) {
      throw new KafkaException(
          HashedPlainCallbackHandler.class.getName()
              + " serves SASL/PLAIN only, not "
              + saslMechanism);
    }
    String path = null;
    for (AppConfigurationEntry entry : jaasConfigEntries) {
      if (!PlainLoginModule.class.getName().equals(entry.getLoginModuleName())) {
        continue;
      }
      Object value = entry.getOptions().get(USERS_FILE_OPTION);
      if (value instanceof String s && !s.isBlank()) {
        path = s;
      }
    }
    if (path == null) {
      throw new KafkaException(
          "the PlainLoginModule of the listener names no "
              + USERS_FILE_OPTION
              + " (the file of hashed users)");
    }
    this.file = Paths.get(path);
    reloadIfChanged();
  }

  @Override
  public void handle(Callback[] callbacks) throws UnsupportedCallbackException {
    String username = null;
    for (Callback callback : callbacks) {
      if (callback instanceof NameCallback name) {
        username = name.getDefaultName();
      } else if (callback instanceof PlainAuthenticateCallback plain) {
        plain.authenticated(authenticate(username, plain.password()));
      } else {
        throw new UnsupportedCallbackException(callback);
      }
    }
  }

  /** Whether {@code password} is {@code username}'s, as the file says now. */
  boolean authenticate(String username, char[] password) {
    Entry entry;
    synchronized (this) {
      reloadIfChanged();
      entry = username == null ? null : users.get(username);
    }
    if (password == null || password.length == 0) {
      return false;
    }
    if (entry == null) {
      // The same work as for a known user: a refusal's timing does not tell which names exist.
      derive(password, DUMMY_SALT, DUMMY_ITERATIONS, 64);
      return false;
    }
    byte[] derived = derive(password, entry.salt(), entry.iterations(), entry.hash().length);
    return MessageDigest.isEqual(derived, entry.hash());
  }

  /** PBKDF2-HMAC-SHA512 of the password's UTF-8 bytes. */
  static byte[] derive(char[] password, byte[] salt, int iterations, int length) {
    PBEKeySpec spec = new PBEKeySpec(password, salt, iterations, length * 8);
    try {
      return SecretKeyFactory.getInstance("PBKDF2WithHmacSHA512").generateSecret(spec).getEncoded();
    } catch (GeneralSecurityException e) {
      throw new KafkaException("PBKDF2WithHmacSHA512 is not available", e);
    } finally {
      spec.clearPassword();
    }
  }

  /** Reads the file again when it is not the version read last. */
  private synchronized void reloadIfChanged() {
    FileVersion now;
    try {
      BasicFileAttributes a = Files.readAttributes(file, BasicFileAttributes.class);
      now = new FileVersion(a.fileKey(), a.lastModifiedTime().toMillis(), a.size());
    } catch (NoSuchFileException e) {
      if (loaded == null || !users.isEmpty()) {
        warn.accept("byoc plain-auth: " + file + " does not exist: no PLAIN user can log in");
      }
      users = Map.of();
      loaded = new FileVersion(null, -1, -1);
      return;
    } catch (IOException e) {
      warn.accept("byoc plain-auth: cannot read " + file + " (" + e + "): the users read before stay");
      return;
    }
    if (now.equals(loaded)) {
      return;
    }
    List<String> lines;
    try {
      lines = Files.readAllLines(file, StandardCharsets.UTF_8);
    } catch (IOException e) {
      warn.accept("byoc plain-auth: cannot read " + file + " (" + e + "): the users read before stay");
      return;
    }
    users = parse(lines, file.toString(), warn);
    loaded = now;
    LOG.info("byoc plain-auth: {} user(s) read from {}", users.size(), file);
  }

  /** The users of the file's lines; a malformed line is skipped with a warning naming its number. */
  static Map<String, Entry> parse(List<String> lines, String source, Consumer<String> warn) {
    Map<String, Entry> out = new HashMap<>();
    int number = 0;
    for (String line : lines) {
      number++;
      String text = line.strip();
      if (text.isEmpty() || text.startsWith("#")) {
        continue;
      }
      String[] parts = text.split(":", -1);
      String why = null;
      Entry entry = null;
      if (parts.length != 5) {
        why = "expected 5 fields separated by ':', found " + parts.length;
      } else if (parts[0].isEmpty()) {
        why = "empty user name";
      } else if (!SCHEME.equals(parts[1])) {
        why = "unknown scheme (expected " + SCHEME + ")";
      } else {
        try {
          int iterations = Integer.parseInt(parts[2]);
          byte[] salt = Base64.getDecoder().decode(parts[3]);
          byte[] hash = Base64.getDecoder().decode(parts[4]);
          if (iterations < 1 || iterations > MAX_ITERATIONS) {
            why = "iterations out of range";
          } else if (salt.length < 8 || hash.length < 32) {
            why = "salt or hash too short";
          } else {
            entry = new Entry(iterations, salt, hash);
          }
        } catch (IllegalArgumentException e) {
          why = "bad iteration count or base64";
        }
      }
      if (entry == null) {
        warn.accept("byoc plain-auth: " + source + " line " + number + " ignored: " + why);
      } else if (out.putIfAbsent(parts[0], entry) != null) {
        warn.accept(
            "byoc plain-auth: " + source + " line " + number + " ignored: user named twice");
      }
    }
    return out;
  }

  @Override
  public void close() {}
}
