package dev.polytrack.client;

import io.grpc.Status;

/**
 * A field is missing or has a value the API does not accept ({@code INVALID_PARAMETER_VALUE}, {@code BAD_REQUEST}).
 */
public class InvalidParameterException extends PolytrackException {
    private static final long serialVersionUID = 1L;

    /**
     * @param message what went wrong
     * @param errorCode the MLflow-style error code
     * @param httpStatus the HTTP status the error maps to, or {@code null}
     * @param grpcStatus the canonical gRPC status
     * @param cause the underlying gRPC exception, if any
     */
    public InvalidParameterException(String message, String errorCode, Integer httpStatus, Status.Code grpcStatus, Throwable cause) {
        super(message, errorCode, httpStatus, grpcStatus, cause);
    }
}
