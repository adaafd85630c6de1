// Java client ingest benchmark: metric points per second through ActiveRun into a running polytrack.
// Run by bench/java_ingest.py (which builds the jar and starts the server); by hand:
//   java -cp clients/java/target/polytrack-client-all.jar bench/java_ingest.java --target 127.0.0.1:5001
// Prints one JSON line: points, seconds (from the first logMetric until close() returned, i.e. after the
// final flush and the run's end), points/s, and the points the server holds afterwards.

import dev.polytrack.client.ActiveRun;
import dev.polytrack.client.PolytrackClient;
import dev.polytrack.v1.CreateRunRequest;
import dev.polytrack.v1.Metric;
import java.time.Duration;
import java.util.UUID;

class JavaIngest {
    public static void main(String[] args) {
        String target = "127.0.0.1:5001";
        int points = 2_000_000;
        int warmup = 2_000_000;
        int keys = 20;
        int concurrency = 4;
        long serverPid = -1;
        for (int i = 0; i + 1 < args.length; i += 2) {
            switch (args[i]) {
                case "--target" -> target = args[i + 1];
                case "--points" -> points = Integer.parseInt(args[i + 1]);
                case "--warmup" -> warmup = Integer.parseInt(args[i + 1]);
                case "--keys" -> keys = Integer.parseInt(args[i + 1]);
                case "--concurrency" -> concurrency = Integer.parseInt(args[i + 1]);
                case "--server-pid" -> serverPid = Long.parseLong(args[i + 1]);
                default -> throw new IllegalArgumentException("unknown argument " + args[i]);
            }
        }
        String[] names = new String[keys];
        for (int k = 0; k < keys; k++) {
            names[k] = "k" + k;
        }
        ActiveRun.Options options = new ActiveRun.Options(100_000, 1000, concurrency, Duration.ofSeconds(1));
        try (PolytrackClient client = PolytrackClient.forTarget(target).build()) {
            String experimentId = client.createExperiment("java-ingest-" + UUID.randomUUID());
            // Warm-up on its own run: JIT compilation and connection set-up are not what is measured.
            log(client, experimentId, "warmup", names, warmup, options);
            com.sun.management.OperatingSystemMXBean os = (com.sun.management.OperatingSystemMXBean)
                    java.lang.management.ManagementFactory.getOperatingSystemMXBean();
            long cpuStart = os.getProcessCpuTime();
            double serverCpuStart = cpuSeconds(serverPid);
            long start = System.nanoTime();
            String runId = log(client, experimentId, "measured", names, points, options);
            double seconds = (System.nanoTime() - start) / 1e9;
            double clientCpuSeconds = (os.getProcessCpuTime() - cpuStart) / 1e9;
            double serverCpuSeconds = cpuSeconds(serverPid) - serverCpuStart;
            long stored = 0;
            for (String key : names) {
                for (Metric ignored : client.iterateMetricHistory(runId, key, 25_000)) {
                    stored++;
                }
            }
            System.out.printf("{\"points\": %d, \"seconds\": %.3f, \"points_per_second\": %.0f, \"stored\": %d,"
                    + " \"keys\": %d, \"concurrency\": %d, \"client_cpu_seconds\": %.3f, \"server_cpu_seconds\": %.3f}%n",
                    points, seconds, points / seconds, stored, keys, concurrency, clientCpuSeconds, serverCpuSeconds);
        }
    }

    /** User + system CPU seconds of a process (from /proc; the server's, to see whether it was the limit). */
    private static double cpuSeconds(long pid) {
        if (pid < 0) {
            return 0;
        }
        try {
            String stat = java.nio.file.Files.readString(java.nio.file.Path.of("/proc/" + pid + "/stat"));
            String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            // After the command name: state is field 0, utime field 11, stime field 12, in clock ticks (100/s).
            return (Long.parseLong(fields[11]) + Long.parseLong(fields[12])) / 100.0;
        } catch (java.io.IOException | RuntimeException unreadable) {
            return Double.NaN;
        }
    }

    private static String log(PolytrackClient client, String experimentId, String name, String[] keys, int points,
            ActiveRun.Options options) {
        CreateRunRequest request = CreateRunRequest.newBuilder().setExperimentId(experimentId).setRunName(name)
                .setStartTime(System.currentTimeMillis()).build();
        try (ActiveRun run = client.startRun(request, options)) {
            int k = keys.length;
            for (int i = 0; i < points; i++) {
                run.logMetric(keys[i % k], i * 0.001, i / k);
            }
            return run.runId();
        }
    }
}
