package dev.polytrack.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.polytrack.v1.*;
import io.grpc.Grpc;
import io.grpc.InsecureServerCredentials;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** Typed exceptions with the server's error codes, deadlines, retries of safe RPCs, and credentials. */
class ErrorsAndRetriesTest extends LiveServerTest {
    private static final RetryPolicy PATIENT =
            new RetryPolicy(200, Duration.ofMillis(100), Duration.ofMillis(300), Duration.ofSeconds(60));

    @Test
    void missingEntityRaisesResourceNotFoundWithItsCodeAndStatuses() {
        ResourceNotFoundException missing = assertThrows(ResourceNotFoundException.class, () -> client.tracking()
                .getExperiment(GetExperimentRequest.newBuilder().setExperimentId("987654321").build()));
        assertEquals("RESOURCE_DOES_NOT_EXIST", missing.errorCode());
        assertEquals(404, missing.httpStatus().orElseThrow());
        assertEquals(Status.Code.NOT_FOUND, missing.grpcStatus());
        assertFalse(missing.getMessage().isEmpty());
    }

    @Test
    void takenNameRaisesResourceAlreadyExists() {
        String name = "dup-" + UUID.randomUUID();
        client.createExperiment(name);
        ResourceAlreadyExistsException taken =
                assertThrows(ResourceAlreadyExistsException.class, () -> client.createExperiment(name));
        assertEquals("RESOURCE_ALREADY_EXISTS", taken.errorCode());
        assertEquals(Status.Code.ALREADY_EXISTS, taken.grpcStatus());
    }

    @Test
    void badValueRaisesInvalidParameterNamingTheField() {
        InvalidParameterException bad = assertThrows(InvalidParameterException.class,
                () -> client.tracking().searchRuns(SearchRunsRequest.newBuilder().setMaxResults(-5).build()));
        assertEquals("INVALID_PARAMETER_VALUE", bad.errorCode());
        assertEquals(400, bad.httpStatus().orElseThrow());
        assertTrue(bad.getMessage().contains("max_results"), bad.getMessage());
    }

    @Test
    void deadlineExceededIsTypedAndNotRetriedBeyondThePolicy() {
        try (PolytrackClient hurried = PolytrackClient.forTarget(server.grpcTarget())
                .withDeadline(Duration.ofNanos(1)).withRetry(RetryPolicy.NEVER).build()) {
            UnavailableException late = assertThrows(UnavailableException.class, () -> hurried.tracking()
                    .searchExperiments(SearchExperimentsRequest.newBuilder().setMaxResults(1).build()));
            assertEquals("DEADLINE_EXCEEDED", late.errorCode());
            assertEquals(Status.Code.DEADLINE_EXCEEDED, late.grpcStatus());
        }
    }

    @Test
    void safeCallIsRetriedUntilTheServerComesUp() throws Exception {
        int httpPort = freePort();
        int grpcPort = freePort();
        Path storage = Files.createTempDirectory("polytrack-java-late-");
        try (PolytrackClient patient = PolytrackClient.forTarget("127.0.0.1:" + grpcPort).withRetry(PATIENT).build()) {
            CompletableFuture<SearchExperimentsResponse> search = CompletableFuture.supplyAsync(() -> patient
                    .tracking().searchExperiments(SearchExperimentsRequest.newBuilder().setMaxResults(5).build()));
            Thread.sleep(1000);
            assertFalse(search.isDone(), "the search should still be retrying while no server listens");
            try (LiveServer late = LiveServer.restart(storage, httpPort, grpcPort)) {
                SearchExperimentsResponse found = search.get(60, TimeUnit.SECONDS);
                assertTrue(found.getExperimentsCount() >= 1, "the Default experiment exists");
            }
        }
    }

    @Test
    void unsafeCallIsRetriedWhileNoServerListensAndCreatesOnce() throws Exception {
        int httpPort = freePort();
        int grpcPort = freePort();
        Path storage = Files.createTempDirectory("polytrack-java-late-create-");
        String name = "late-" + UUID.randomUUID();
        try (PolytrackClient patient = PolytrackClient.forTarget("127.0.0.1:" + grpcPort).withRetry(PATIENT).build()) {
            // Connections are refused until the server starts: the request never left, so it is retried.
            CompletableFuture<String> created = CompletableFuture.supplyAsync(() -> patient.createExperiment(name));
            Thread.sleep(1000);
            assertFalse(created.isDone(), "CreateExperiment should still be retrying while no server listens");
            try (LiveServer late = LiveServer.restart(storage, httpPort, grpcPort)) {
                String experimentId = created.get(60, TimeUnit.SECONDS);
                Experiment found = patient.tracking().getExperimentByName(
                        GetExperimentByNameRequest.newBuilder().setExperimentName(name).build()).getExperiment();
                assertEquals(experimentId, found.getExperimentId());
            }
        }
    }

    @Test
    void unsafeCallThatReachedTheServerIsNotRetried() throws Exception {
        AtomicInteger calls = new AtomicInteger();
        // A server that takes the call and answers UNAVAILABLE: the create may have happened.
        Server overloaded = Grpc.newServerBuilderForPort(0, InsecureServerCredentials.create())
                .addService(new TrackingServiceGrpc.TrackingServiceImplBase() {
                    @Override
                    public void createExperiment(CreateExperimentRequest request,
                            StreamObserver<CreateExperimentResponse> responses) {
                        calls.incrementAndGet();
                        responses.onError(Status.UNAVAILABLE.withDescription("overloaded").asRuntimeException());
                    }
                }).build().start();
        try (PolytrackClient patient = PolytrackClient.forTarget("127.0.0.1:" + overloaded.getPort())
                .withRetry(PATIENT).build()) {
            UnavailableException down = assertThrows(UnavailableException.class,
                    () -> patient.createExperiment("once-" + UUID.randomUUID()));
            assertEquals("TEMPORARILY_UNAVAILABLE", down.errorCode());
            assertEquals(Status.Code.UNAVAILABLE, down.grpcStatus());
            assertEquals(1, calls.get(), "CreateExperiment was sent again after reaching the server");
        } finally {
            overloaded.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
    }

    @Test
    void credentialsTravelAsAuthorizationMetadata() throws Exception {
        List<String> seen = new CopyOnWriteArrayList<>();
        Metadata.Key<String> authorization = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
        ServerInterceptor recorder = new ServerInterceptor() {
            @Override
            public <Q, R> ServerCall.Listener<Q> interceptCall(
                    ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
                seen.add(String.valueOf(headers.get(authorization)));
                return next.startCall(call, headers);
            }
        };
        // A bare gRPC server that records headers and implements no RPC (every call: UNIMPLEMENTED).
        Server recorderServer = Grpc.newServerBuilderForPort(0, InsecureServerCredentials.create())
                .addService(ServerInterceptors.intercept(new TrackingServiceGrpc.TrackingServiceImplBase() {}, recorder))
                .build().start();
        String target = "127.0.0.1:" + recorderServer.getPort();
        try (PolytrackClient bearer = PolytrackClient.forTarget(target).withToken("s3cret").build();
             PolytrackClient basic = PolytrackClient.forTarget(target).withBasicAuth("ana", "pa:ss").build();
             PolytrackClient anonymous = PolytrackClient.forTarget(target).build()) {
            PolytrackException unimplemented = assertThrows(PolytrackException.class,
                    () -> bearer.tracking().getRun(GetRunRequest.newBuilder().setRunId("x").build()));
            assertEquals("ENDPOINT_NOT_FOUND", unimplemented.errorCode());
            assertThrows(PolytrackException.class,
                    () -> basic.tracking().getRun(GetRunRequest.newBuilder().setRunId("x").build()));
            assertThrows(PolytrackException.class,
                    () -> anonymous.tracking().getRun(GetRunRequest.newBuilder().setRunId("x").build()));
        } finally {
            recorderServer.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
        String basicValue = "Basic " + Base64.getEncoder().encodeToString("ana:pa:ss".getBytes(StandardCharsets.UTF_8));
        assertEquals(List.of("Bearer s3cret", basicValue, "null"), seen);
    }

    @Test
    void tokenIsAcceptedByTheRealServer() {
        try (PolytrackClient withToken = PolytrackClient.forTarget("grpc://" + server.grpcTarget())
                .withToken("any-token").build()) {
            assertTrue(withToken.createExperiment("token-" + UUID.randomUUID()).length() > 0);
        }
    }

    @Test
    void builderRefusesBadSettings() {
        assertThrows(IllegalArgumentException.class, () -> PolytrackClient.forTarget(" "));
        assertThrows(IllegalArgumentException.class, () -> PolytrackClient.forTarget("h:1").withToken(""));
        assertThrows(IllegalArgumentException.class, () -> PolytrackClient.forTarget("h:1").withBasicAuth("a:b", "c"));
        assertThrows(IllegalArgumentException.class, () -> PolytrackClient.forTarget("h:1").withDeadline(Duration.ZERO));
        assertThrows(IllegalArgumentException.class, () -> new RetryPolicy(0, Duration.ZERO, Duration.ZERO, Duration.ZERO));
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }
}
