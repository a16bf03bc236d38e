package ringfence;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.graphdb.GraphDatabaseService;
import org.neo4j.kernel.internal.Version;
import org.neo4j.logging.log4j.Log4jLogProvider;

/**
 * Runs an embedded Neo4j Community DBMS with Bolt on 127.0.0.1:&lt;port&gt; and auth disabled.
 *
 * <pre>
 *   java -Xmx1g [flags] -cp 'target/classes:target/lib/*' ringfence.Neo4jLauncher &lt;home&gt; &lt;port&gt; [pagecache]
 * </pre>
 *
 * <p>stdout carries exactly one line, {@code READY bolt://127.0.0.1:<port>}, once Bolt accepts
 * connections; everything else (Neo4j's user log, errors) goes to stderr. The DBMS shuts down
 * cleanly on SIGTERM/SIGINT (shutdown hook) and when stdin reaches EOF, so that a launcher whose
 * parent died (and with it the parent's end of the stdin pipe) never lingers.
 *
 * <p>Optional environment: RINGFENCE_NEO4J_PAGECACHE (default 256m; the third argument wins),
 * RINGFENCE_NEO4J_TX_TIMEOUT (default 10m; 0 = none).
 */
public final class Neo4jLauncher {
    private static final Object LOCK = new Object();
    private static DatabaseManagementService service;
    private static boolean stopping;

    private Neo4jLauncher() {}

    public static void main(String[] args) throws Exception {
        if (args.length < 2 || args.length > 3) {
            System.err.println("usage: Neo4jLauncher <home> <port> [pagecache, e.g. 256m]");
            System.exit(2);
        }
        Path home = Path.of(args[0]).toAbsolutePath();
        int port = Integer.parseInt(args[1]);
        String pageCache = args.length == 3 ? args[2] : env("RINGFENCE_NEO4J_PAGECACHE", "256m");
        String txTimeout = env("RINGFENCE_NEO4J_TX_TIMEOUT", "10m");

        Runtime.getRuntime().addShutdownHook(new Thread(Neo4jLauncher::shutdown, "neo4j-launcher-shutdown"));
        watchStdin();

        Files.createDirectories(home);
        Map<String, String> config = new LinkedHashMap<>();
        config.put("server.bolt.enabled", "true");
        config.put("server.bolt.listen_address", "127.0.0.1:" + port);
        config.put("server.bolt.advertised_address", "127.0.0.1:" + port);
        config.put("server.bolt.tls_level", "DISABLED");
        config.put("server.default_listen_address", "127.0.0.1");
        config.put("dbms.security.auth_enabled", "false");
        config.put("server.memory.pagecache.size", pageCache);
        config.put("dbms.usage_report.enabled", "false");
        // Graph Data Science (the sharded sweep's partition): its jars in target/plugins.
        Path plugins = pluginsDir();
        if (plugins != null) {
            config.put("server.directories.plugins", plugins.toString());
            config.put("dbms.security.procedures.unrestricted", "gds.*");
        }
        // A dev/test server: bounded transactions and lock waits, little transaction-log disk.
        config.put("db.transaction.timeout", txTimeout);
        config.put("db.lock.acquisition.timeout", "60s");
        config.put("db.transaction.bookmark_ready_timeout", "30s");
        config.put("db.tx_log.rotation.retention_policy", "2 files");
        config.put("db.tx_log.rotation.size", "64M");
        config.put("db.tx_log.preallocate", "false");
        // Stop in ~1s instead of ~10s: Netty's graceful-shutdown quiet period and the wait for
        // Bolt connections default to 5s each (internal settings, still validated by name).
        config.put("internal.dbms.bolt.netty_server_shutdown_quiet_period", "0");
        config.put("internal.dbms.bolt.netty_server_shutdown_timeout", "5s");
        config.put("internal.server.bolt.connection_shutdown_wait_time", "1s");

        System.err.println("Neo4jLauncher: Neo4j " + Version.getNeo4jVersion() + " home=" + home
                + " bolt=127.0.0.1:" + port + " pagecache=" + pageCache);
        long t0 = System.nanoTime();
        try {
            // The embedded builder takes typed settings or a properties file; the file keeps the raw,
            // validated (strict) setting names in one place and leaves a record in <home>/conf.
            Path conf = Files.createDirectories(home.resolve("conf")).resolve("neo4j-launcher.conf");
            StringBuilder text = new StringBuilder("# written by ringfence.Neo4jLauncher on every start\n");
            config.forEach((key, value) -> text.append(key).append('=').append(value).append('\n'));
            Files.writeString(conf, text.toString());
            DatabaseManagementService dbms = new DatabaseManagementServiceBuilder(home)
                    .loadPropertiesFromFile(conf)
                    .setUserLogProvider(new Log4jLogProvider(System.err))
                    .build();
            synchronized (LOCK) {
                service = dbms;
                if (stopping) {
                    return; // shutdown began while we were starting; the hook is waiting on LOCK
                }
            }
            GraphDatabaseService db = dbms.database("neo4j");
            if (!db.isAvailable(TimeUnit.MINUTES.toMillis(5))) {
                throw new IllegalStateException("database 'neo4j' did not become available");
            }
            awaitPort(port, 60_000);
        } catch (Throwable e) {
            System.err.println("Neo4jLauncher: startup failed: " + e);
            e.printStackTrace(System.err);
            System.err.flush();
            System.exit(1);
        }
        System.err.printf("Neo4jLauncher: started in %.1fs%n", (System.nanoTime() - t0) / 1e9);
        System.out.println("READY bolt://127.0.0.1:" + port);
        System.out.flush();
        // Non-daemon wait: the stdin watcher or a signal ends the JVM through System.exit/the hook.
        Thread.currentThread().join();
    }

    /** target/plugins next to target/classes (RINGFENCE_NEO4J_PLUGINS overrides), if it exists. */
    private static Path pluginsDir() {
        String override = System.getenv("RINGFENCE_NEO4J_PLUGINS");
        try {
            Path dir = override != null && !override.isBlank()
                    ? Path.of(override.trim())
                    : Path.of(Neo4jLauncher.class.getProtectionDomain().getCodeSource().getLocation().toURI())
                            .getParent().resolve("plugins");
            return Files.isDirectory(dir) ? dir.toAbsolutePath() : null;
        } catch (java.net.URISyntaxException | SecurityException e) {
            return null;
        }
    }

    private static String env(String name, String fallback) {
        String value = System.getenv(name);
        return value == null || value.isBlank() ? fallback : value.trim();
    }

    /** Exits (running the shutdown hook) when stdin reaches EOF or fails: the parent is gone. */
    private static void watchStdin() {
        Thread watcher = new Thread(() -> {
            byte[] buf = new byte[256];
            try (InputStream in = System.in) {
                while (in.read(buf) >= 0) {
                    // input is ignored; only EOF matters
                }
            } catch (IOException ignored) {
                // treated as EOF
            }
            System.err.println("Neo4jLauncher: stdin closed, shutting down");
            System.exit(0);
        }, "neo4j-launcher-stdin");
        watcher.setDaemon(true);
        watcher.start();
    }

    private static void awaitPort(int port, long timeoutMillis) throws InterruptedException {
        long deadline = System.currentTimeMillis() + timeoutMillis;
        while (true) {
            try (Socket socket = new Socket()) {
                socket.connect(new InetSocketAddress("127.0.0.1", port), 1000);
                return;
            } catch (IOException e) {
                if (System.currentTimeMillis() > deadline) {
                    throw new IllegalStateException("Bolt port " + port + " not accepting connections", e);
                }
                Thread.sleep(50);
            }
        }
    }

    private static void shutdown() {
        DatabaseManagementService dbms;
        synchronized (LOCK) {
            stopping = true;
            dbms = service;
            service = null;
        }
        if (dbms == null) {
            return;
        }
        System.err.println("Neo4jLauncher: shutting down");
        try {
            dbms.shutdown();
            System.err.println("Neo4jLauncher: stopped");
        } catch (Throwable e) {
            System.err.println("Neo4jLauncher: shutdown failed: " + e);
        }
        System.err.flush();
    }
}
