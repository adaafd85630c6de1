package dev.polytrack.client;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.rpc.ErrorInfo;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import io.grpc.stub.ClientCalls;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * Makes unary calls on the client's channel: deadline, retries of safe RPCs (and of any RPC whose
 * connection could not even be made), errors made typed.
 */
final class RpcInvoker {
    /**
     * Writes that are safe to repeat: they set a state (or add what is already there), so a retry after a
     * lost answer changes nothing. Reads (Get, Search, List) are safe too. The create RPCs and
     * RenameRegisteredModel are not: a repeat creates a second entity or fails for a reason the client
     * cannot tell apart from someone else's change.
     */
    static final Set<String> RETRY_SAFE_WRITES = Set.of(
            "UpdateExperiment", "DeleteExperiment", "RestoreExperiment", "SetExperimentTag",
            "DeleteExperimentTag", "UpdateRun", "DeleteRun", "RestoreRun", "SetTag", "DeleteTag",
            "LogMetric", "LogParam", "LogBatch", "LogInputs", "DeleteArtifact", "UpdateRegisteredModel",
            "DeleteRegisteredModel", "SetRegisteredModelTag", "DeleteRegisteredModelTag",
            "SetRegisteredModelAlias", "DeleteRegisteredModelAlias", "UpdateModelVersion",
            "DeleteModelVersion", "SetModelVersionTag", "DeleteModelVersionTag", "TransitionModelVersionStage");

    /** Deletions for good: RESOURCE_DOES_NOT_EXIST on a retry means an earlier attempt did the work. */
    private static final Set<String> DONE_WHEN_MISSING_ON_RETRY = Set.of("DeleteRegisteredModel", "DeleteModelVersion");

    private static final Set<Status.Code> TRANSIENT =
            Set.of(Status.Code.UNAVAILABLE, Status.Code.RESOURCE_EXHAUSTED, Status.Code.DEADLINE_EXCEEDED);

    /** The error code of a failure without ErrorInfo (raised by gRPC itself, or by a proxy). */
    private static final Map<Status.Code, String> CODE_OF_STATUS = Map.ofEntries(
            Map.entry(Status.Code.CANCELLED, "CANCELLED"),
            Map.entry(Status.Code.INVALID_ARGUMENT, "INVALID_PARAMETER_VALUE"),
            Map.entry(Status.Code.DEADLINE_EXCEEDED, "DEADLINE_EXCEEDED"),
            Map.entry(Status.Code.NOT_FOUND, "NOT_FOUND"),
            Map.entry(Status.Code.ALREADY_EXISTS, "RESOURCE_ALREADY_EXISTS"),
            Map.entry(Status.Code.PERMISSION_DENIED, "PERMISSION_DENIED"),
            Map.entry(Status.Code.RESOURCE_EXHAUSTED, "REQUEST_LIMIT_EXCEEDED"),
            Map.entry(Status.Code.FAILED_PRECONDITION, "INVALID_STATE"),
            Map.entry(Status.Code.ABORTED, "ABORTED"),
            Map.entry(Status.Code.UNIMPLEMENTED, "ENDPOINT_NOT_FOUND"),
            Map.entry(Status.Code.UNAVAILABLE, "TEMPORARILY_UNAVAILABLE"),
            Map.entry(Status.Code.DATA_LOSS, "DATA_LOSS"),
            Map.entry(Status.Code.UNAUTHENTICATED, "UNAUTHENTICATED"));

    /** HTTP status of each error code (as in proto/polytrack/v1/errors.proto), when ErrorInfo lacks one. */
    private static final Map<String, Integer> HTTP_STATUS_OF_CODE = Map.ofEntries(
            Map.entry("INTERNAL_ERROR", 500), Map.entry("BAD_REQUEST", 400), Map.entry("NOT_FOUND", 404),
            Map.entry("TEMPORARILY_UNAVAILABLE", 503), Map.entry("INVALID_PARAMETER_VALUE", 400),
            Map.entry("ENDPOINT_NOT_FOUND", 404), Map.entry("INVALID_STATE", 500),
            Map.entry("PERMISSION_DENIED", 403), Map.entry("NOT_IMPLEMENTED", 501),
            Map.entry("UNAUTHENTICATED", 401), Map.entry("RESOURCE_ALREADY_EXISTS", 400),
            Map.entry("RESOURCE_DOES_NOT_EXIST", 404), Map.entry("REQUEST_LIMIT_EXCEEDED", 429));

    private final Channel channel;
    private final Duration deadline;
    private final RetryPolicy retry;

    RpcInvoker(Channel channel, Duration deadline, RetryPolicy retry) {
        this.channel = channel;
        this.deadline = deadline;
        this.retry = retry;
    }

    RetryPolicy retryPolicy() {
        return retry;
    }

    Channel channel() {
        return channel;
    }

    /** Call options of one attempt: the client's deadline from now. */
    CallOptions callOptions() {
        CallOptions options = CallOptions.DEFAULT;
        return deadline == null ? options : options.withDeadlineAfter(deadline.toNanos(), TimeUnit.NANOSECONDS);
    }

    /** One unary call, retried when the RPC is safe to repeat and the failure is transient. */
    <Q, R> R call(MethodDescriptor<Q, R> method, Q request) {
        return call(method, request, retry);
    }

    /** One unary call under the given retry policy. */
    <Q, R> R call(MethodDescriptor<Q, R> method, Q request, RetryPolicy policy) {
        String name = method.getBareMethodName();
        boolean retrySafe = isRetrySafe(name);
        long start = System.nanoTime();
        for (int attempt = 0; ; attempt++) {
            try {
                return ClientCalls.blockingUnaryCall(channel, method, callOptions(), request);
            } catch (StatusRuntimeException error) {
                PolytrackException failure = translate(error);
                if (attempt > 0 && DONE_WHEN_MISSING_ON_RETRY.contains(name)
                        && "RESOURCE_DOES_NOT_EXIST".equals(failure.errorCode())) {
                    return method.parseResponse(new java.io.ByteArrayInputStream(new byte[0]));
                }
                boolean retryable = retrySafe ? TRANSIENT.contains(error.getStatus().getCode()) : neverSent(error);
                long wait = retryable ? policy.delayNanos(attempt, System.nanoTime() - start) : -1;
                if (wait < 0) {
                    throw failure;
                }
                sleep(wait, failure);
            }
        }
    }

    /**
     * Whether the call certainly never reached a server: UNAVAILABLE because no connection could be
     * made (refused, unreachable). Then even an RPC that is not safe to repeat can be tried again, as
     * when a service starts before its tracking server.
     */
    static boolean neverSent(StatusRuntimeException error) {
        if (error.getStatus().getCode() != Status.Code.UNAVAILABLE) {
            return false;
        }
        for (Throwable cause = error.getCause(); cause != null; cause = cause.getCause()) {
            if (cause instanceof java.net.ConnectException) {
                return true;
            }
        }
        return false;
    }

    static boolean isRetrySafe(String bareMethodName) {
        return bareMethodName.startsWith("Get") || bareMethodName.startsWith("Search")
                || bareMethodName.startsWith("List") || RETRY_SAFE_WRITES.contains(bareMethodName);
    }

    private static void sleep(long nanos, PolytrackException failure) {
        try {
            TimeUnit.NANOSECONDS.sleep(nanos);
        } catch (InterruptedException interrupted) {
            Thread.currentThread().interrupt();
            throw failure;
        }
    }

    /** The typed exception for a failed call: the ErrorInfo's code, else one derived from the status. */
    static PolytrackException translate(Throwable error) {
        Status status = Status.fromThrowable(error);
        com.google.rpc.Status detailed = StatusProto.fromThrowable(error);
        if (detailed != null) {
            for (Any detail : detailed.getDetailsList()) {
                if (!detail.is(ErrorInfo.class)) {
                    continue;
                }
                try {
                    ErrorInfo info = detail.unpack(ErrorInfo.class);
                    String code = info.getReason().isEmpty() ? "INTERNAL_ERROR" : info.getReason();
                    Integer http = httpStatus(info.getMetadataMap().get("http_status"), code);
                    return PolytrackException.of(detailed.getMessage(), code, http, status.getCode(), error);
                } catch (InvalidProtocolBufferException malformed) {
                    break;
                }
            }
        }
        String code = CODE_OF_STATUS.getOrDefault(status.getCode(), "INTERNAL_ERROR");
        String message = status.getDescription() != null ? status.getDescription() : status.getCode().name();
        return PolytrackException.of(message, code, null, status.getCode(), error);
    }

    private static Integer httpStatus(String fromMetadata, String code) {
        if (fromMetadata != null) {
            try {
                return Integer.valueOf(fromMetadata.trim());
            } catch (NumberFormatException ignored) {
                // fall through to the table
            }
        }
        return HTTP_STATUS_OF_CODE.get(code);
    }
}
