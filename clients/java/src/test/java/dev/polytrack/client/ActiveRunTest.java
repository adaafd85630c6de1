package dev.polytrack.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.polytrack.v1.*;
import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** ActiveRun: background batches, flush on close, bounded queue, end status, nothing lost. */
class ActiveRunTest extends LiveServerTest {
    private static String experiment() {
        return client.createExperiment("active-" + UUID.randomUUID());
    }

    private static long historySize(PolytrackClient via, String runId, String key) {
        long count = 0;
        for (Metric ignored : via.iterateMetricHistory(runId, key, 10_000)) {
            count++;
        }
        return count;
    }

    private static RunInfo info(String runId) {
        return client.tracking().getRun(GetRunRequest.newBuilder().setRunId(runId).build()).getRun().getInfo();
    }

    @Test
    void closeSendsEveryPointAndEndsTheRunFinished() {
        String runId;
        try (ActiveRun run = client.startRun(experiment(), "flush-on-close")) {
            runId = run.runId();
            run.logParam("model", "gbm-v3");
            for (int i = 0; i < 25_003; i++) {
                run.logMetric("k" + (i % 3), i * 0.5, i / 3);
            }
            run.setTag("host", "test");
        }
        assertEquals(8_335, historySize(client, runId, "k0"));
        assertEquals(8_334, historySize(client, runId, "k1"));
        assertEquals(8_334, historySize(client, runId, "k2"));
        RunInfo info = info(runId);
        assertEquals(RunStatus.FINISHED, info.getStatus());
        assertTrue(info.getEndTime() > 0);
        Run run = client.tracking().getRun(GetRunRequest.newBuilder().setRunId(runId).build()).getRun();
        assertTrue(run.getData().getParamsList().stream().anyMatch(p -> p.getValue().equals("gbm-v3")));
        assertTrue(run.getData().getTagsList().stream().anyMatch(t -> t.getKey().equals("host")));
    }

    @Test
    void anUnfilledBatchIsSentAfterTheFlushInterval() throws Exception {
        ActiveRun.Options quick = new ActiveRun.Options(10_000, 1000, 2, Duration.ofMillis(200));
        try (ActiveRun run = client.startRun(CreateRunRequest.newBuilder().setExperimentId(experiment()).build(), quick)) {
            for (int i = 0; i < 5; i++) {
                run.logMetric("few", i, i);
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (historySize(client, run.runId(), "few") < 5 && System.nanoTime() < deadline) {
                Thread.sleep(50);
            }
            assertEquals(5, historySize(client, run.runId(), "few"), "sent without flush or close");
        }
    }

    @Test
    void logMetricWaitsWhenTheQueueIsFullAndNothingIsLostAcrossAnOutage() throws Exception {
        // A run on a server that is then stopped: the points have nowhere to go until it is back.
        LiveServer own = LiveServer.start();
        String runId;
        try (PolytrackClient first = own.client()) {
            String experimentId = first.createExperiment("outage");
            runId = first.tracking().createRun(CreateRunRequest.newBuilder().setExperimentId(experimentId).build())
                    .getRun().getInfo().getRunId();
        }
        own.stop();
        RetryPolicy patient = new RetryPolicy(1000, Duration.ofMillis(50), Duration.ofMillis(200), Duration.ofMinutes(2));
        ActiveRun.Options small = new ActiveRun.Options(2_000, 500, 1, Duration.ofSeconds(1));
        LiveServer back = null;
        try (PolytrackClient client = PolytrackClient.forTarget(own.grpcTarget()).withRetry(patient).build()) {
            ActiveRun run = new ActiveRun(client, runId, small);
            Thread producer = new Thread(() -> {
                for (int i = 0; i < 10_000; i++) {
                    run.logMetric("m", i, i);
                }
            });
            producer.start();
            producer.join(1500);
            assertTrue(producer.isAlive(), "logMetric should wait once 2,000 points (+ in flight) are queued");
            back = LiveServer.restart(own.directory, own.httpPort, own.grpcPort);
            producer.join(TimeUnit.SECONDS.toMillis(60));
            assertFalse(producer.isAlive());
            run.close();
            assertEquals(10_000, historySize(client, runId, "m"));
        } finally {
            if (back != null) {
                back.close();
            } else {
                own.close();
            }
        }
    }

    @Test
    void refusedPointsAreNarrowedDownAndReportedOnClose() {
        ActiveRun run = client.startRun(experiment(), "bad-key");
        for (int i = 0; i < 1500; i++) {
            run.logMetric("good", i, i);
            if (i == 700) {
                run.logMetric("../bad", 1, i);
            }
        }
        InvalidParameterException refused = assertThrows(InvalidParameterException.class, run::close);
        assertTrue(refused.getMessage().startsWith("1 metric point(s)"), refused.getMessage());
        assertEquals(1500, historySize(client, run.runId(), "good"));
        assertEquals(RunStatus.FAILED, info(run.runId()).getStatus());
    }

    @Test
    void withRunEndsTheRunFailedWhenTheBodyThrows() {
        String experimentId = experiment();
        String[] runId = new String[1];
        IllegalStateException thrown = assertThrows(IllegalStateException.class,
                () -> client.withRun(experimentId, "crashes", run -> {
                    runId[0] = run.runId();
                    run.logMetric("before-crash", 1, 0);
                    throw new IllegalStateException("boom");
                }));
        assertEquals("boom", thrown.getMessage());
        assertEquals(RunStatus.FAILED, info(runId[0]).getStatus());
        assertEquals(1, historySize(client, runId[0], "before-crash"));

        String ok = client.withRun(experimentId, "fine", run -> run.runId());
        assertEquals(RunStatus.FINISHED, info(ok).getStatus());
    }

    @Test
    void failMarksTheRunFailedAndAClosedRunRefusesPoints() {
        ActiveRun run = client.startRun(experiment(), "failed");
        run.fail();
        run.close();
        run.close();
        assertEquals(RunStatus.FAILED, info(run.runId()).getStatus());
        assertThrows(IllegalStateException.class, () -> run.logMetric("late", 1, 0));
        assertThrows(IllegalArgumentException.class, () -> new ActiveRun.Options(10, 1000, 1, Duration.ofSeconds(1)));
    }

    @Test
    void closeReportsEveryPointItCouldNotSendWhenTheServerStaysDown() throws Exception {
        int deadPort;
        try (java.net.ServerSocket socket = new java.net.ServerSocket(0)) {
            deadPort = socket.getLocalPort();
        }
        RetryPolicy brief = new RetryPolicy(100, Duration.ofMillis(50), Duration.ofMillis(100), Duration.ofSeconds(1));
        try (PolytrackClient nowhere = PolytrackClient.forTarget("127.0.0.1:" + deadPort).withRetry(brief).build()) {
            ActiveRun run = new ActiveRun(nowhere, "no-server", new ActiveRun.Options(10_000, 500, 2, Duration.ofSeconds(1)));
            for (int i = 0; i < 5_000; i++) {
                run.logMetric("m", i, i);
            }
            long start = System.nanoTime();
            UnavailableException down = assertThrows(UnavailableException.class, run::close);
            assertTrue(down.getMessage().startsWith("5000 metric point(s)"), down.getMessage());
            assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(20), "close waited out every batch");
        }
    }

    @Test
    void flushWaitsForItsOwnPointsNotForOtherThreadsStillLogging() throws Exception {
        try (ActiveRun run = client.startRun(experiment(), "busy")) {
            java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
            Thread busy = new Thread(() -> {
                for (long i = 0; !stop.get(); i++) {
                    run.logMetric("background", i, i);
                }
            });
            busy.start();
            try {
                for (int i = 0; i < 10; i++) {
                    run.logMetric("mine", i, i);
                }
                long start = System.nanoTime();
                run.flush();
                assertTrue(busy.isAlive());
                assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(30), "flush waited for the other thread");
                assertEquals(10, historySize(client, run.runId(), "mine"));
            } finally {
                stop.set(true);
                busy.join();
            }
        }
    }
}
