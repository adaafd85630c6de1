package dev.polytrack.client;

import io.grpc.Status;

/**
 * An entity with this identity exists already ({@code RESOURCE_ALREADY_EXISTS}).
 */
public class ResourceAlreadyExistsException extends PolytrackException {
    private static final long serialVersionUID = 1L;

    /**
     * @param message what went wrong
     * @param errorCode the MLflow-style error code
     * @param httpStatus the HTTP status the error maps to, or {@code null}
     * @param grpcStatus the canonical gRPC status
     * @param cause the underlying gRPC exception, if any
     */
    public ResourceAlreadyExistsException(String message, String errorCode, Integer httpStatus, Status.Code grpcStatus, Throwable cause) {
        super(message, errorCode, httpStatus, grpcStatus, cause);
    }
}
