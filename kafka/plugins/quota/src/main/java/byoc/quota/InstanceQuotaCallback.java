package byoc.quota;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.EnumSet;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.function.LongSupplier;

import org.apache.kafka.common.Cluster;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.security.auth.KafkaPrincipal;
import org.apache.kafka.server.quota.ClientQuotaCallback;
import org.apache.kafka.server.quota.ClientQuotaEntity;
import org.apache.kafka.server.quota.ClientQuotaType;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One shared quota for every client of an instance (KIP-257).
 *
 * <p>Kafka's stock quotas are per user or client id and per broker, so every user would get
 * the full rate on every broker. Here every client principal maps to one quota sensor (the tag
 * {@code instance=clients}), so all of them share it; and each broker enforces its share of the
 * instance's total, as KIP-257 suggests: the total times the part of the clients' partitions
 * (all topics but Kafka's internal ones) this broker leads, from the last cluster metadata
 * (clients produce to and fetch from leaders, so with traffic spread over partitions the
 * shares add up to the total whatever the leaders' spread). A broker that leads none still
 * admits one partition's share (a client with stale metadata is not starved). Before any
 * partition exists, or before metadata has come, the total divided by the brokers serving
 * (distinct ids of the metadata, else the file's {@code brokers}).
 *
 * <p>The totals are read from the properties file named by the broker setting
 * {@value #FILE_CONFIG} ({@code produce.bytes.per.second}, {@code fetch.bytes.per.second},
 * {@code brokers}); the console writes it into each node's directory and rewrites it when the
 * instance is scaled. The file is looked at again at most once a second (while requests come)
 * and, when it changed, Kafka is told to apply the new limits ({@link #quotaResetRequired}): no
 * restart. A missing or unreadable file leaves the last totals in force (none at first: no
 * limit).
 *
 * <p>The nodes' and the console's own principals ({@value #INTERNAL_PRINCIPALS_CONFIG}) are not
 * limited; replication between nodes is never a client quota in Kafka. Request-time and
 * controller-mutation quotas are not limited either. Quotas set with Kafka's own
 * AlterClientQuotas are ignored: the instance's AKU decide.
 */
public class InstanceQuotaCallback implements ClientQuotaCallback {
    /** The broker setting naming the quota file. */
    public static final String FILE_CONFIG = "byoc.quota.file";
    /** Principals never limited, {@code ;}-separated (default: the nodes and the console). */
    public static final String INTERNAL_PRINCIPALS_CONFIG = "byoc.quota.unlimited.principals";
    /** The tag every client's sensor has: one sensor, one quota, for all. */
    static final Map<String, String> CLIENTS = Map.of("instance", "clients");
    static final Map<String, String> INTERNAL = Map.of("instance", "internal");
    /** How often the file is looked at, at most. */
    static final long CHECK_EVERY_NANOS = 1_000_000_000L;

    private static final Logger LOG = LoggerFactory.getLogger(InstanceQuotaCallback.class);

    private Path file;
    private Set<String> unlimited = Set.of("User:broker", "User:byoc-console");
    private final LongSupplier clock;

    private volatile Totals totals = Totals.NONE;
    private volatile int liveBrokers = 0;
    /** Partitions of client topics with a leader, and those this broker leads. */
    private volatile int partitions = 0;
    private volatile int ledHere = 0;
    private int nodeId = -1;
    private long lastCheck = Long.MIN_VALUE;
    private Object lastStamp = null;
    private final Set<ClientQuotaType> resetPending = EnumSet.noneOf(ClientQuotaType.class);

    /** What the file says. */
    record Totals(Long produce, Long fetch, int brokers) {
        static final Totals NONE = new Totals(null, null, 0);
    }

    public InstanceQuotaCallback() {
        this(System::nanoTime);
    }

    InstanceQuotaCallback(LongSupplier clock) {
        this.clock = clock;
    }

    @Override
    public void configure(Map<String, ?> configs) {
        Object path = configs.get(FILE_CONFIG);
        if (path == null || path.toString().isBlank()) {
            LOG.warn("{} is not set: clients are not limited", FILE_CONFIG);
        } else {
            file = Path.of(path.toString());
        }
        Object id = configs.get("node.id");
        if (id != null) {
            try {
                nodeId = Integer.parseInt(id.toString().trim());
            } catch (NumberFormatException e) {
                LOG.warn("node.id {} is not a number: shares by brokers only", id);
            }
        }
        Object internal = configs.get(INTERNAL_PRINCIPALS_CONFIG);
        if (internal != null && !internal.toString().isBlank()) {
            unlimited = Set.of(internal.toString().split(";"));
        }
        synchronized (this) {
            reloadIfChanged(true);
        }
    }

    @Override
    public Map<String, String> quotaMetricTags(
            ClientQuotaType quotaType, KafkaPrincipal principal, String clientId) {
        if (principal != null && unlimited.contains(principal.toString())) {
            return INTERNAL;
        }
        return CLIENTS;
    }

    @Override
    public Double quotaLimit(ClientQuotaType quotaType, Map<String, String> metricTags) {
        if (!CLIENTS.equals(metricTags)) {
            return null;
        }
        Totals now = totals;
        Long total = switch (quotaType) {
            case PRODUCE -> now.produce();
            case FETCH -> now.fetch();
            default -> null;
        };
        if (total == null) {
            return null;
        }
        int all = partitions;
        if (all > 0 && nodeId >= 0) {
            return (double) total * Math.max(1, ledHere) / all;
        }
        int brokers = liveBrokers > 0 ? liveBrokers : Math.max(1, now.brokers());
        return (double) total / brokers;
    }

    @Override
    public synchronized boolean quotaResetRequired(ClientQuotaType quotaType) {
        reloadIfChanged(false);
        return resetPending.remove(quotaType);
    }

    /**
     * Called by Kafka on metadata changes (deprecated in 4.4, still called): the brokers that
     * serve now divide the total.
     */
    @Override
    @SuppressWarnings("deprecation")
    public synchronized boolean updateClusterMetadata(Cluster cluster) {
        // Distinct ids: Kafka 4.4 lists a broker once per listener (CLIENT and INTERNAL here).
        int live = (int) cluster.nodes().stream().mapToInt(Node::id).distinct().count();
        int all = 0;
        int led = 0;
        for (String topic : cluster.topics()) {
            if (topic.startsWith("__") || cluster.internalTopics().contains(topic)) {
                continue;
            }
            for (PartitionInfo partition : cluster.partitionsForTopic(topic)) {
                Node leader = partition.leader();
                if (leader == null || leader.isEmpty()) {
                    continue;
                }
                all++;
                if (leader.id() == nodeId) {
                    led++;
                }
            }
        }
        if (live == liveBrokers && all == partitions && led == ledHere) {
            return false;
        }
        LOG.info("{} brokers serve, this one ({}) leads {} of {} client partitions: it limits "
                + "clients to that share", live, nodeId, led, all);
        liveBrokers = live;
        partitions = all;
        ledHere = led;
        resetPending.add(ClientQuotaType.PRODUCE);
        resetPending.add(ClientQuotaType.FETCH);
        return true;
    }

    @Override
    public void updateQuota(ClientQuotaType quotaType, ClientQuotaEntity entity, double newValue) {
        // Quotas set through Kafka's own API are not the instance's: its AKU decide.
    }

    @Override
    public void removeQuota(ClientQuotaType quotaType, ClientQuotaEntity entity) {}

    @Override
    public void close() {}

    /** The totals in force (for tests and logs). */
    Totals totals() {
        return totals;
    }

    /** Reads the file again if its modification time or size changed; caller holds the lock. */
    private void reloadIfChanged(boolean force) {
        if (file == null) {
            return;
        }
        long now = clock.getAsLong();
        if (!force && lastCheck != Long.MIN_VALUE && now - lastCheck < CHECK_EVERY_NANOS) {
            return;
        }
        lastCheck = now;
        Object stamp;
        try {
            BasicFileAttributes attributes = Files.readAttributes(file, BasicFileAttributes.class);
            stamp = attributes.lastModifiedTime().toString() + "/" + attributes.size();
        } catch (IOException e) {
            if (lastStamp != null) {
                LOG.warn("cannot read {} ({}): the last quotas stay in force", file, e.toString());
                lastStamp = null;
            }
            return;
        }
        if (stamp.equals(lastStamp)) {
            return;
        }
        Totals read;
        try (InputStream in = Files.newInputStream(file)) {
            Properties properties = new Properties();
            properties.load(in);
            read = new Totals(
                    number(properties, "produce.bytes.per.second"),
                    number(properties, "fetch.bytes.per.second"),
                    number(properties, "brokers") == null
                            ? 0
                            : number(properties, "brokers").intValue());
        } catch (IOException | IllegalArgumentException e) {
            LOG.warn("cannot read {} ({}): the last quotas stay in force", file, e.toString());
            return;
        }
        lastStamp = stamp;
        if (!read.equals(totals)) {
            LOG.info("instance quotas from {}: produce {} B/s, fetch {} B/s in all", file,
                    read.produce(), read.fetch());
            totals = read;
            resetPending.add(ClientQuotaType.PRODUCE);
            resetPending.add(ClientQuotaType.FETCH);
        }
    }

    private static Long number(Properties properties, String key) {
        String value = properties.getProperty(key);
        if (value == null || value.isBlank()) {
            return null;
        }
        long parsed = Long.parseLong(value.trim());
        if (parsed <= 0) {
            throw new IllegalArgumentException(key + " must be positive, not " + parsed);
        }
        return parsed;
    }
}
