package dev.polytrack.client;

import io.grpc.Status;

/**
 * The entity named by the request does not exist ({@code RESOURCE_DOES_NOT_EXIST}, or {@code NOT_FOUND}).
 */
public class ResourceNotFoundException extends PolytrackException {
    private static final long serialVersionUID = 1L;

    /**
     * @param message what went wrong
     * @param errorCode the MLflow-style error code
     * @param httpStatus the HTTP status the error maps to, or {@code null}
     * @param grpcStatus the canonical gRPC status
     * @param cause the underlying gRPC exception, if any
     */
    public ResourceNotFoundException(String message, String errorCode, Integer httpStatus, Status.Code grpcStatus, Throwable cause) {
        super(message, errorCode, httpStatus, grpcStatus, cause);
    }
}
