package dev.polytrack.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.polytrack.v1.GetExperimentByNameRequest;
import dev.polytrack.v1.Run;
import dev.polytrack.v1.RunStatus;
import dev.polytrack.v1.SearchRunsRequest;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** examples/java-service runs as its README says and its metrics reach the server. */
class ExampleServiceTest {
    @Test
    void scoringServiceLogsEveryRequest() throws Exception {
        Path example = Path.of("..", "..", "examples", "java-service", "ScoringService.java").toAbsolutePath().normalize();
        assertTrue(Files.isRegularFile(example), example + " is missing");
        String classPath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        try (LiveServer server = LiveServer.start(); PolytrackClient client = server.client()) {
            Process service = new ProcessBuilder(java, "-cp", classPath, example.toString(), "--target",
                    server.grpcTarget(), "--experiment", "example", "--requests", "300")
                    .redirectErrorStream(true).start();
            String output = new String(service.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(service.waitFor(120, TimeUnit.SECONDS));
            assertEquals(0, service.exitValue(), output);
            assertTrue(output.contains("scored 300 requests"), output);

            String experimentId = client.tracking().getExperimentByName(GetExperimentByNameRequest.newBuilder()
                    .setExperimentName("example").build()).getExperiment().getExperimentId();
            List<Run> runs = client.tracking().searchRuns(SearchRunsRequest.newBuilder()
                    .addExperimentIds(experimentId).build()).getRunsList();
            assertEquals(1, runs.size());
            Run run = runs.get(0);
            assertEquals(RunStatus.FINISHED, run.getInfo().getStatus());
            long points = 0;
            for (var ignored : client.iterateMetricHistory(run.getInfo().getRunId(), "latency_ms", 1000)) {
                points++;
            }
            assertEquals(300, points);
        }
    }
}
