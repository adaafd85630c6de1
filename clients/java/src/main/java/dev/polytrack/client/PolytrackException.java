package dev.polytrack.client;

import io.grpc.Status;
import java.util.Optional;

/**
 * A call the server refused, or could not be made. The {@link #errorCode()} is the MLflow-style code the
 * server put in the {@code google.rpc.ErrorInfo} reason (e.g. {@code RESOURCE_DOES_NOT_EXIST}); when the
 * failure carries no ErrorInfo (the server was unreachable, a proxy answered) it is derived from the gRPC
 * status. Common codes have their own subclasses, so callers can catch just those:
 * {@link ResourceNotFoundException}, {@link ResourceAlreadyExistsException},
 * {@link InvalidParameterException}, {@link UnavailableException}.
 */
public class PolytrackException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** The MLflow-style error code. */
    private final String errorCode;
    /** The HTTP status the error maps to, or null when unknown. */
    private final Integer httpStatus;
    /** The canonical gRPC status of the failed call. */
    private final Status.Code grpcStatus;

    /**
     * @param message what went wrong, as the server said it
     * @param errorCode the MLflow-style error code
     * @param httpStatus the HTTP status the error maps to, or {@code null} when unknown
     * @param grpcStatus the canonical gRPC status of the failed call
     * @param cause the underlying gRPC exception, if any
     */
    public PolytrackException(
            String message, String errorCode, Integer httpStatus, Status.Code grpcStatus, Throwable cause) {
        super(message, cause);
        this.errorCode = errorCode;
        this.httpStatus = httpStatus;
        this.grpcStatus = grpcStatus;
    }

    /** @return the MLflow-style error code, e.g. {@code INVALID_PARAMETER_VALUE} */
    public String errorCode() {
        return errorCode;
    }

    /** @return the HTTP status the error maps to (from the ErrorInfo metadata), when known */
    public Optional<Integer> httpStatus() {
        return Optional.ofNullable(httpStatus);
    }

    /** @return the canonical gRPC status code of the failed call */
    public Status.Code grpcStatus() {
        return grpcStatus;
    }

    @Override
    public String toString() {
        return getClass().getSimpleName() + "(" + errorCode + ", " + grpcStatus + "): " + getMessage();
    }

    /** The exception class for an error code: a subclass for the common codes, else this class. */
    static PolytrackException of(
            String message, String errorCode, Integer httpStatus, Status.Code grpcStatus, Throwable cause) {
        return switch (errorCode) {
            case "RESOURCE_DOES_NOT_EXIST", "NOT_FOUND" ->
                new ResourceNotFoundException(message, errorCode, httpStatus, grpcStatus, cause);
            case "RESOURCE_ALREADY_EXISTS" ->
                new ResourceAlreadyExistsException(message, errorCode, httpStatus, grpcStatus, cause);
            case "INVALID_PARAMETER_VALUE", "BAD_REQUEST" ->
                new InvalidParameterException(message, errorCode, httpStatus, grpcStatus, cause);
            case "TEMPORARILY_UNAVAILABLE", "REQUEST_LIMIT_EXCEEDED", "DEADLINE_EXCEEDED" ->
                new UnavailableException(message, errorCode, httpStatus, grpcStatus, cause);
            default -> new PolytrackException(message, errorCode, httpStatus, grpcStatus, cause);
        };
    }
}
