package dev.polytrack.client;

import io.grpc.Status;

/**
 * The server could not be reached, is overloaded, or did not answer in time ({@code TEMPORARILY_UNAVAILABLE},
 * {@code REQUEST_LIMIT_EXCEEDED}, {@code DEADLINE_EXCEEDED}): worth retrying later.
 */
public class UnavailableException extends PolytrackException {
    private static final long serialVersionUID = 1L;

    /**
     * @param message what went wrong
     * @param errorCode the MLflow-style error code
     * @param httpStatus the HTTP status the error maps to, or {@code null}
     * @param grpcStatus the canonical gRPC status
     * @param cause the underlying gRPC exception, if any
     */
    public UnavailableException(String message, String errorCode, Integer httpStatus, Status.Code grpcStatus, Throwable cause) {
        super(message, errorCode, httpStatus, grpcStatus, cause);
    }
}
