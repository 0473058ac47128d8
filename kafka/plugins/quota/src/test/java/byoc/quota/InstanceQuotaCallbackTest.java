package byoc.quota;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;

import org.apache.kafka.common.Cluster;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.security.auth.KafkaPrincipal;
import org.apache.kafka.server.quota.ClientQuotaType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class InstanceQuotaCallbackTest {
    @TempDir
    Path dir;

    final AtomicLong clock = new AtomicLong(0);

    static KafkaPrincipal user(String name) {
        return new KafkaPrincipal(KafkaPrincipal.USER_TYPE, name);
    }

    InstanceQuotaCallback callback(Path file) {
        InstanceQuotaCallback callback = new InstanceQuotaCallback(clock::get);
        callback.configure(Map.of(InstanceQuotaCallback.FILE_CONFIG, file.toString(), "node.id", "0"));
        return callback;
    }

    static void write(Path file, long produce, long fetch, int brokers) throws IOException {
        Files.writeString(file, "produce.bytes.per.second=" + produce + "\nfetch.bytes.per.second="
                + fetch + "\nbrokers=" + brokers + "\n");
    }

    static Cluster cluster(int brokers) {
        List<Node> nodes = new ArrayList<>();
        for (int i = 0; i < brokers; i++) {
            nodes.add(new Node(i, "127.0.0.1", 24000 + 4 * i));
        }
        return new Cluster("c", nodes, List.of(), Set.of(), Set.of());
    }

    @Test
    void everyClientSharesOneQuotaDividedByTheBrokers() throws IOException {
        Path file = dir.resolve("quota.properties");
        write(file, 3_000_000, 6_000_000, 3);
        InstanceQuotaCallback callback = callback(file);
        Map<String, String> alice = callback.quotaMetricTags(ClientQuotaType.PRODUCE, user("alice"), "p1");
        Map<String, String> bob = callback.quotaMetricTags(ClientQuotaType.PRODUCE, user("bob"), "p2");
        Map<String, String> anonymous =
                callback.quotaMetricTags(ClientQuotaType.FETCH, KafkaPrincipal.ANONYMOUS, "");
        assertEquals(alice, bob);
        assertEquals(alice, anonymous);
        assertEquals(1_000_000.0, callback.quotaLimit(ClientQuotaType.PRODUCE, alice));
        assertEquals(2_000_000.0, callback.quotaLimit(ClientQuotaType.FETCH, alice));
        assertNull(callback.quotaLimit(ClientQuotaType.REQUEST, alice));
        assertNull(callback.quotaLimit(ClientQuotaType.CONTROLLER_MUTATION, alice));
    }

    @Test
    void theNodesAndTheConsoleAreNotLimited() throws IOException {
        Path file = dir.resolve("quota.properties");
        write(file, 3_000_000, 6_000_000, 3);
        InstanceQuotaCallback callback = callback(file);
        for (String name : new String[] {"broker", "byoc-console"}) {
            Map<String, String> tags = callback.quotaMetricTags(ClientQuotaType.FETCH, user(name), "x");
            assertNull(callback.quotaLimit(ClientQuotaType.FETCH, tags));
        }
    }

    @Test
    void theBrokersServingDivideTheTotal() throws IOException {
        Path file = dir.resolve("quota.properties");
        write(file, 12_000_000, 24_000_000, 3);
        InstanceQuotaCallback callback = callback(file);
        Map<String, String> tags = callback.quotaMetricTags(ClientQuotaType.PRODUCE, user("a"), "c");
        assertEquals(4_000_000.0, callback.quotaLimit(ClientQuotaType.PRODUCE, tags));
        assertTrue(callback.updateClusterMetadata(cluster(4)));
        assertEquals(3_000_000.0, callback.quotaLimit(ClientQuotaType.PRODUCE, tags));
        assertEquals(6_000_000.0, callback.quotaLimit(ClientQuotaType.FETCH, tags));
        assertTrue(callback.quotaResetRequired(ClientQuotaType.PRODUCE));
        assertTrue(callback.quotaResetRequired(ClientQuotaType.FETCH));
        assertFalse(callback.quotaResetRequired(ClientQuotaType.PRODUCE), "once");
        assertFalse(callback.updateClusterMetadata(cluster(4)), "no change");
        // Kafka 4.4 lists each broker once per listener: brokers are counted by id.
        List<Node> twice = new ArrayList<>(cluster(4).nodes());
        for (int i = 0; i < 4; i++) {
            twice.add(new Node(i, "127.0.0.1", 25000 + i));
        }
        assertFalse(callback.updateClusterMetadata(
                new Cluster("c", twice, List.of(), Set.of(), Set.of())), "still 4 brokers");
        assertEquals(3_000_000.0, callback.quotaLimit(ClientQuotaType.PRODUCE, tags));
    }

    /** `leaders[i]` leads partition i of topic t; plus an internal topic led by broker 0. */
    static Cluster withLeaders(int brokers, int... leaders) {
        // By id (a Cluster's own nodes() are shuffled).
        List<Node> nodes = new ArrayList<>();
        for (int i = 0; i < brokers; i++) {
            nodes.add(new Node(i, "127.0.0.1", 24000 + 4 * i));
        }
        List<PartitionInfo> partitions = new ArrayList<>();
        for (int i = 0; i < leaders.length; i++) {
            Node leader = nodes.get(leaders[i]);
            partitions.add(new PartitionInfo("t", i, leader, new Node[] {leader}, new Node[] {leader}));
        }
        for (int i = 0; i < 50; i++) {
            partitions.add(new PartitionInfo("__consumer_offsets", i, nodes.get(0), new Node[0], new Node[0]));
        }
        return new Cluster("c", nodes, partitions, Set.of(), Set.of("__consumer_offsets"));
    }

    @Test
    void eachBrokerAdmitsTheShareOfThePartitionsItLeads() throws IOException {
        Path file = dir.resolve("quota.properties");
        write(file, 6_000_000, 12_000_000, 3);
        InstanceQuotaCallback callback = callback(file);
        Map<String, String> tags = callback.quotaMetricTags(ClientQuotaType.PRODUCE, user("a"), "c");
        // Broker 0 leads 3 of 6 client partitions (internal topics do not count): half.
        assertTrue(callback.updateClusterMetadata(withLeaders(3, 0, 1, 2, 0, 0, 1)));
        assertEquals(3_000_000.0, callback.quotaLimit(ClientQuotaType.PRODUCE, tags));
        assertEquals(6_000_000.0, callback.quotaLimit(ClientQuotaType.FETCH, tags));
        // Leading none, it still admits one partition's share.
        assertTrue(callback.updateClusterMetadata(withLeaders(3, 1, 1, 2, 2, 1, 2)));
        assertEquals(1_000_000.0, callback.quotaLimit(ClientQuotaType.PRODUCE, tags));
    }

    @Test
    void aChangedFileIsReadAgainAndKafkaToldToResetOnce() throws IOException {
        Path file = dir.resolve("quota.properties");
        write(file, 3_000_000, 6_000_000, 3);
        InstanceQuotaCallback callback = callback(file);
        Map<String, String> tags = callback.quotaMetricTags(ClientQuotaType.PRODUCE, user("a"), "c");
        // The first read, at configure, leaves one reset pending (harmless: no sensor yet).
        clock.addAndGet(2 * InstanceQuotaCallback.CHECK_EVERY_NANOS);
        assertTrue(callback.quotaResetRequired(ClientQuotaType.PRODUCE));
        assertFalse(callback.quotaResetRequired(ClientQuotaType.PRODUCE));

        write(file, 6_000_000, 12_000_000, 3);
        // Within a second of the last look the file is not looked at.
        assertFalse(callback.quotaResetRequired(ClientQuotaType.PRODUCE));
        assertEquals(1_000_000.0, callback.quotaLimit(ClientQuotaType.PRODUCE, tags));
        clock.addAndGet(InstanceQuotaCallback.CHECK_EVERY_NANOS);
        assertTrue(callback.quotaResetRequired(ClientQuotaType.PRODUCE));
        assertTrue(callback.quotaResetRequired(ClientQuotaType.FETCH));
        assertEquals(2_000_000.0, callback.quotaLimit(ClientQuotaType.PRODUCE, tags));
        assertEquals(4_000_000.0, callback.quotaLimit(ClientQuotaType.FETCH, tags));
        clock.addAndGet(InstanceQuotaCallback.CHECK_EVERY_NANOS);
        assertFalse(callback.quotaResetRequired(ClientQuotaType.PRODUCE), "unchanged file");
    }

    @Test
    void aMissingOrDamagedFileKeepsTheLastQuotas() throws IOException {
        Path file = dir.resolve("quota.properties");
        InstanceQuotaCallback none = callback(file);
        Map<String, String> tags = none.quotaMetricTags(ClientQuotaType.PRODUCE, user("a"), "c");
        assertNull(none.quotaLimit(ClientQuotaType.PRODUCE, tags), "no file yet: no limit");

        write(file, 3_000_000, 6_000_000, 3);
        clock.addAndGet(InstanceQuotaCallback.CHECK_EVERY_NANOS);
        assertTrue(none.quotaResetRequired(ClientQuotaType.PRODUCE));
        assertEquals(1_000_000.0, none.quotaLimit(ClientQuotaType.PRODUCE, tags));

        Files.writeString(file, "produce.bytes.per.second=lots\n");
        clock.addAndGet(InstanceQuotaCallback.CHECK_EVERY_NANOS);
        assertFalse(none.quotaResetRequired(ClientQuotaType.PRODUCE));
        assertEquals(1_000_000.0, none.quotaLimit(ClientQuotaType.PRODUCE, tags));
        Files.delete(file);
        clock.addAndGet(InstanceQuotaCallback.CHECK_EVERY_NANOS);
        assertFalse(none.quotaResetRequired(ClientQuotaType.PRODUCE));
        assertEquals(1_000_000.0, none.quotaLimit(ClientQuotaType.PRODUCE, tags));
    }
}
