package dev.polytrack.client;

import dev.polytrack.v1.CreateExperimentRequest;
import dev.polytrack.v1.CreateRunRequest;
import dev.polytrack.v1.Experiment;
import dev.polytrack.v1.GetMetricHistoryRequest;
import dev.polytrack.v1.GetMetricHistoryResponse;
import dev.polytrack.v1.Metric;
import dev.polytrack.v1.ModelVersion;
import dev.polytrack.v1.RegisteredModel;
import dev.polytrack.v1.Run;
import dev.polytrack.v1.SearchExperimentsRequest;
import dev.polytrack.v1.SearchExperimentsResponse;
import dev.polytrack.v1.SearchModelVersionsRequest;
import dev.polytrack.v1.SearchModelVersionsResponse;
import dev.polytrack.v1.SearchRegisteredModelsRequest;
import dev.polytrack.v1.SearchRegisteredModelsResponse;
import dev.polytrack.v1.SearchRunsRequest;
import dev.polytrack.v1.SearchRunsResponse;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ChannelCredentials;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ClientInterceptors;
import io.grpc.ForwardingClientCall;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.TlsChannelCredentials;
import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

/**
 * A client of a polytrack server's gRPC port.
 *
 * <pre>{@code
 * try (PolytrackClient client = PolytrackClient.forTarget("localhost:5001").withToken(token).build();
 *      ActiveRun run = client.startRun(experimentId, "nightly-scoring")) {
 *     run.logParam("model", "gbm-v3");
 *     run.logMetric("latency_ms", 12.5, 0);
 * }
 * }</pre>
 *
 * <p>Every RPC is reachable through {@link #tracking()}, {@link #registry()} and {@link #artifacts()},
 * taking and returning the messages generated from {@code proto/polytrack/v1}. The {@code iterate*}
 * methods walk every page of a search. The client is thread-safe; close it to release the channel.
 */
public final class PolytrackClient implements AutoCloseable {
    static final String VERSION = "0.1.0";
    private static final Metadata.Key<String> AUTHORIZATION =
            Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

    private final ManagedChannel ownedChannel;
    private final RpcInvoker invoker;
    private final Tracking tracking;
    private final Registry registry;
    private final Artifacts artifacts;

    private PolytrackClient(ManagedChannel ownedChannel, Channel channel, Duration deadline, RetryPolicy retry) {
        this.ownedChannel = ownedChannel;
        this.invoker = new RpcInvoker(channel, deadline, retry);
        this.tracking = new Tracking(invoker);
        this.registry = new Registry(invoker);
        this.artifacts = new Artifacts(invoker);
    }

    /**
     * Starts building a client of the gRPC port at {@code target}.
     *
     * @param target {@code host:port} of the server's gRPC port (a leading {@code grpc://} is accepted)
     * @return a builder, plaintext with no credentials until told otherwise
     */
    public static Builder forTarget(String target) {
        return new Builder(target, null);
    }

    /**
     * Starts building a client over a channel the caller made and keeps ownership of (the client's
     * {@link #close()} does not shut it down).
     *
     * @param channel an existing gRPC channel
     * @return a builder; TLS settings are ignored, credentials and deadlines apply
     */
    public static Builder forChannel(Channel channel) {
        return new Builder(null, Objects.requireNonNull(channel, "channel"));
    }

    /** @return the TrackingService RPCs */
    public Tracking tracking() {
        return tracking;
    }

    /** @return the ModelRegistryService RPCs */
    public Registry registry() {
        return registry;
    }

    /** @return the ArtifactsService RPCs, with streaming upload and download */
    public Artifacts artifacts() {
        return artifacts;
    }

    /**
     * The channel with the client's credentials attached: for calling the generated stubs directly.
     *
     * @return a channel that sends the client's credentials with every call
     */
    public Channel channel() {
        return invoker.channel();
    }

    /**
     * Makes one unary call of any polytrack RPC, with the client's credentials and deadline.
     *
     * @param method the generated method descriptor (e.g. {@code TrackingServiceGrpc.getGetRunMethod()})
     * @param request the request message
     * @param retry the retry policy for this call ({@link RetryPolicy#NEVER} for exactly one attempt)
     * @param <Q> the request type
     * @param <R> the response type
     * @return the response
     * @throws PolytrackException when the call fails
     */
    public <Q, R> R call(MethodDescriptor<Q, R> method, Q request, RetryPolicy retry) {
        return invoker.call(method, request, retry);
    }

    /** The retry policy the builder set, for calls that take the client's default. */
    RetryPolicy retryPolicy() {
        return invoker.retryPolicy();
    }

    /**
     * Creates an experiment.
     *
     * @param name a name no other experiment, active or deleted, has
     * @return the new experiment's id
     */
    public String createExperiment(String name) {
        return tracking.createExperiment(CreateExperimentRequest.newBuilder().setName(name).build())
                .getExperimentId();
    }

    /**
     * Creates a run and returns it as an {@link ActiveRun} with the default logging options.
     *
     * @param experimentId the experiment of the run
     * @param runName the run's name
     * @return the running run; close it to flush its metrics and end it
     */
    public ActiveRun startRun(String experimentId, String runName) {
        return startRun(CreateRunRequest.newBuilder().setExperimentId(experimentId).setRunName(runName)
                .setStartTime(System.currentTimeMillis()).build(), ActiveRun.Options.defaults());
    }

    /**
     * Creates a run from a full request and returns it as an {@link ActiveRun}.
     *
     * @param request the CreateRun request (experiment, name, start time, tags)
     * @param options queue size, batching and concurrency of the metric sender
     * @return the running run
     */
    public ActiveRun startRun(CreateRunRequest request, ActiveRun.Options options) {
        Run run = tracking.createRun(request).getRun();
        return new ActiveRun(this, run.getInfo().getRunId(), options);
    }

    /**
     * Runs {@code body} in a new run and ends the run FINISHED when it returns, FAILED when it throws (the
     * exception is then rethrown). Java's try-with-resources gives {@link ActiveRun#close()} no view of an
     * exception, so this is the way to have failures recorded without calling {@link ActiveRun#fail}.
     *
     * @param experimentId the experiment of the run
     * @param runName the run's name
     * @param body what to do with the run
     * @param <T> what the body returns
     * @param <E> what the body may throw
     * @return what the body returned
     * @throws E what the body threw, after the run was ended FAILED
     */
    public <T, E extends Exception> T withRun(String experimentId, String runName, RunBody<T, E> body) throws E {
        try (ActiveRun run = startRun(experimentId, runName)) {
            try {
                return body.apply(run);
            } catch (Exception | Error failure) {
                run.fail();
                throw failure;
            }
        }
    }

    /**
     * The body of {@link #withRun}.
     *
     * @param <T> what it returns
     * @param <E> what it may throw
     */
    @FunctionalInterface
    public interface RunBody<T, E extends Exception> {
        /**
         * @param run the running run
         * @return any result
         * @throws E on failure, which ends the run FAILED
         */
        T apply(ActiveRun run) throws E;
    }

    /**
     * Every experiment that matches, page by page as the iteration proceeds.
     *
     * @param request the search; its {@code max_results} is the page size
     * @return a lazy iterable (each iteration starts from the first page)
     */
    public Iterable<Experiment> iterateExperiments(SearchExperimentsRequest request) {
        return () -> new PageIterator<>(request, tracking::searchExperiments,
                SearchExperimentsResponse::getExperimentsList, SearchExperimentsResponse::getNextPageToken,
                (q, token) -> q.toBuilder().setPageToken(token).build());
    }

    /**
     * Every run that matches, page by page as the iteration proceeds.
     *
     * @param request the search; its {@code max_results} is the page size
     * @return a lazy iterable (each iteration starts from the first page)
     */
    public Iterable<Run> iterateRuns(SearchRunsRequest request) {
        return () -> new PageIterator<>(request, tracking::searchRuns, SearchRunsResponse::getRunsList,
                SearchRunsResponse::getNextPageToken, (q, token) -> q.toBuilder().setPageToken(token).build());
    }

    /**
     * The whole history of one metric of a run, fetched {@code pageSize} points at a time.
     *
     * @param runId the run
     * @param metricKey the metric
     * @param pageSize points per request
     * @return a lazy iterable (each iteration starts from the first page)
     */
    public Iterable<Metric> iterateMetricHistory(String runId, String metricKey, int pageSize) {
        GetMetricHistoryRequest request = GetMetricHistoryRequest.newBuilder().setRunId(runId)
                .setMetricKey(metricKey).setMaxResults(pageSize).build();
        return () -> new PageIterator<>(request, tracking::getMetricHistory,
                GetMetricHistoryResponse::getMetricsList, GetMetricHistoryResponse::getNextPageToken,
                (q, token) -> q.toBuilder().setPageToken(token).build());
    }

    /**
     * Every registered model that matches, page by page as the iteration proceeds.
     *
     * @param request the search; its {@code max_results} is the page size
     * @return a lazy iterable (each iteration starts from the first page)
     */
    public Iterable<RegisteredModel> iterateRegisteredModels(SearchRegisteredModelsRequest request) {
        return () -> new PageIterator<>(request, registry::searchRegisteredModels,
                SearchRegisteredModelsResponse::getRegisteredModelsList,
                SearchRegisteredModelsResponse::getNextPageToken,
                (q, token) -> q.toBuilder().setPageToken(token).build());
    }

    /**
     * Every model version that matches, page by page as the iteration proceeds.
     *
     * @param request the search; its {@code max_results} is the page size
     * @return a lazy iterable (each iteration starts from the first page)
     */
    public Iterable<ModelVersion> iterateModelVersions(SearchModelVersionsRequest request) {
        return () -> new PageIterator<>(request, registry::searchModelVersions,
                SearchModelVersionsResponse::getModelVersionsList, SearchModelVersionsResponse::getNextPageToken,
                (q, token) -> q.toBuilder().setPageToken(token).build());
    }

    /** Shuts the channel down (when the client made it), waiting up to 5 seconds for calls to end. */
    @Override
    public void close() {
        if (ownedChannel == null) {
            return;
        }
        ownedChannel.shutdown();
        try {
            if (!ownedChannel.awaitTermination(5, TimeUnit.SECONDS)) {
                ownedChannel.shutdownNow();
            }
        } catch (InterruptedException interrupted) {
            ownedChannel.shutdownNow();
            Thread.currentThread().interrupt();
        }
    }

    /** Builds a {@link PolytrackClient}: target, TLS, credentials, deadline and retries. */
    public static final class Builder {
        private final String target;
        private final Channel channel;
        private boolean tls;
        private File trustedCertificates;
        private String authorization;
        private Duration deadline = Duration.ofSeconds(60);
        private RetryPolicy retry = RetryPolicy.DEFAULT;
        private int maxInboundMessageBytes = 64 * 1024 * 1024;

        private Builder(String target, Channel channel) {
            if (channel == null) {
                Objects.requireNonNull(target, "target");
                String trimmed = target.strip();
                if (trimmed.startsWith("grpc://")) {
                    trimmed = trimmed.substring("grpc://".length());
                } else if (trimmed.startsWith("grpcs://")) {
                    trimmed = trimmed.substring("grpcs://".length());
                    this.tls = true;
                }
                if (trimmed.isEmpty()) {
                    throw new IllegalArgumentException("target must be host:port, got an empty string");
                }
                this.target = trimmed;
            } else {
                this.target = null;
            }
            this.channel = channel;
        }

        /**
         * @param enabled whether to use TLS (default off; a {@code grpcs://} target turns it on)
         * @return this builder
         */
        public Builder useTls(boolean enabled) {
            this.tls = enabled;
            return this;
        }

        /**
         * Uses TLS and trusts the certificates in a PEM file (instead of the system's trust store).
         *
         * @param pemFile the server's certificate or its CA's
         * @return this builder
         */
        public Builder trustCertificates(File pemFile) {
            this.tls = true;
            this.trustedCertificates = Objects.requireNonNull(pemFile, "pemFile");
            return this;
        }

        /**
         * Sends {@code authorization: Bearer <token>} with every call.
         *
         * @param token the bearer token
         * @return this builder
         */
        public Builder withToken(String token) {
            if (token == null || token.isBlank()) {
                throw new IllegalArgumentException("token must not be empty");
            }
            this.authorization = "Bearer " + token;
            return this;
        }

        /**
         * Sends {@code authorization: Basic <base64(user:password)>} with every call.
         *
         * @param username the user name (without ':')
         * @param password the password
         * @return this builder
         */
        public Builder withBasicAuth(String username, String password) {
            if (username == null || username.isEmpty() || username.contains(":")) {
                throw new IllegalArgumentException("username must be non-empty and must not contain ':'");
            }
            String pair = username + ":" + Objects.requireNonNull(password, "password");
            this.authorization = "Basic " + Base64.getEncoder().encodeToString(pair.getBytes(StandardCharsets.UTF_8));
            return this;
        }

        /**
         * @param perCall the deadline of each attempt of a unary call (default 60 s); {@code null} for none
         * @return this builder
         */
        public Builder withDeadline(Duration perCall) {
            if (perCall != null && (perCall.isNegative() || perCall.isZero())) {
                throw new IllegalArgumentException("deadline must be positive, got " + perCall);
            }
            this.deadline = perCall;
            return this;
        }

        /**
         * @param policy retries of RPCs that are safe to repeat, and of any RPC while no connection can be
         *     made (default {@link RetryPolicy#DEFAULT})
         * @return this builder
         */
        public Builder withRetry(RetryPolicy policy) {
            this.retry = Objects.requireNonNull(policy, "policy");
            return this;
        }

        /**
         * @param bytes the largest response message accepted (default 64 MiB)
         * @return this builder
         */
        public Builder withMaxInboundMessageBytes(int bytes) {
            this.maxInboundMessageBytes = bytes;
            return this;
        }

        /**
         * Opens the channel (lazily: nothing connects before the first call).
         *
         * @return the client
         */
        public PolytrackClient build() {
            ManagedChannel owned = null;
            Channel base = channel;
            if (base == null) {
                owned = Grpc.newChannelBuilder(target, credentials())
                        .userAgent("polytrack-java-client/" + VERSION)
                        .maxInboundMessageSize(maxInboundMessageBytes)
                        .build();
                base = owned;
            }
            Channel withAuth = authorization == null ? base
                    : ClientInterceptors.intercept(base, new AuthorizationInterceptor(authorization));
            return new PolytrackClient(owned, withAuth, deadline, retry);
        }

        private ChannelCredentials credentials() {
            if (!tls) {
                return InsecureChannelCredentials.create();
            }
            if (trustedCertificates == null) {
                return TlsChannelCredentials.create();
            }
            try {
                return TlsChannelCredentials.newBuilder().trustManager(trustedCertificates).build();
            } catch (IOException error) {
                throw new UncheckedIOException("cannot read certificates from " + trustedCertificates, error);
            }
        }
    }

    /** Adds the {@code authorization} header to every call. */
    private static final class AuthorizationInterceptor implements ClientInterceptor {
        private final String value;

        AuthorizationInterceptor(String value) {
            this.value = value;
        }

        @Override
        public <Q, R> ClientCall<Q, R> interceptCall(MethodDescriptor<Q, R> method, CallOptions options, Channel next) {
            return new ForwardingClientCall.SimpleForwardingClientCall<>(next.newCall(method, options)) {
                @Override
                public void start(Listener<R> listener, Metadata headers) {
                    headers.put(AUTHORIZATION, value);
                    super.start(listener, headers);
                }
            };
        }
    }
}
