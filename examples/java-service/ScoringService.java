// A small service that scores requests and logs its latency and scores to polytrack through the Java
// client. Each "request" is simulated; the metrics are queued by ActiveRun and sent in the background,
// so logging never waits for the server.
//
//   mvn -B -q -f clients/java package -DskipTests
//   java -cp clients/java/target/polytrack-client-all.jar examples/java-service/ScoringService.java \
//       --target localhost:5001 --requests 5000

import dev.polytrack.client.ActiveRun;
import dev.polytrack.client.PolytrackClient;
import dev.polytrack.client.ResourceNotFoundException;
import dev.polytrack.v1.GetExperimentByNameRequest;
import java.net.InetAddress;
import java.util.Random;

public class ScoringService {
    public static void main(String[] args) throws Exception {
        String target = "localhost:5001";
        String experiment = "java-service";
        int requests = 5000;
        for (int i = 0; i + 1 < args.length; i += 2) {
            switch (args[i]) {
                case "--target" -> target = args[i + 1];
                case "--experiment" -> experiment = args[i + 1];
                case "--requests" -> requests = Integer.parseInt(args[i + 1]);
                default -> throw new IllegalArgumentException("unknown argument " + args[i]);
            }
        }
        PolytrackClient.Builder builder = PolytrackClient.forTarget(target);
        String token = System.getenv("POLYTRACK_TRACKING_TOKEN");
        if (token != null && !token.isBlank()) {
            builder.withToken(token);
        }
        try (PolytrackClient client = builder.build()) {
            String experimentId = experimentId(client, experiment);
            try (ActiveRun run = client.startRun(experimentId, "nightly-scoring")) {
                try {
                    run.logParam("model", "gbm-v3");
                    run.setTag("host", InetAddress.getLocalHost().getHostName());
                    serve(run, requests);
                } catch (Exception failure) {
                    run.fail();
                    throw failure;
                }
                System.out.println("scored " + requests + " requests; run " + run.runId());
            }
        }
    }

    /** The id of the experiment called {@code name}, created when missing. */
    private static String experimentId(PolytrackClient client, String name) {
        try {
            return client.tracking().getExperimentByName(
                    GetExperimentByNameRequest.newBuilder().setExperimentName(name).build()).getExperiment().getExperimentId();
        } catch (ResourceNotFoundException missing) {
            return client.createExperiment(name);
        }
    }

    /** Scores simulated requests, logging each one's latency and score. */
    private static void serve(ActiveRun run, int requests) {
        Random random = new Random(42);
        for (int step = 0; step < requests; step++) {
            long start = System.nanoTime();
            double score = 1 / (1 + Math.exp(-random.nextGaussian()));
            double latencyMs = (System.nanoTime() - start) / 1e6 + random.nextDouble();
            run.logMetric("latency_ms", latencyMs, step);
            run.logMetric("score", score, step);
        }
    }
}
