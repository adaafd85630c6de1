package dev.polytrack.client;

import com.google.protobuf.ByteString;
import dev.polytrack.v1.*;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.stub.ClientCalls;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.util.Iterator;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.zip.CRC32C;

/**
 * The ArtifactsService RPCs: unary ones here; streams through {@link #upload} and {@link #download}.
 *
 * <p>One method per RPC, taking and returning the generated messages. Each call carries the client's
 * credentials and deadline; RPCs that are safe to repeat (reads, and writes that set a state) are retried
 * on transient failures under the client's {@link RetryPolicy}. Failures raise {@link PolytrackException}.
 * Obtain it from {@link PolytrackClient#artifacts()}.
 */
public final class Artifacts {
    private final RpcInvoker invoker;

    Artifacts(RpcInvoker invoker) {
        this.invoker = invoker;
    }

    /**
     * Lists the entries directly under a directory of the artifacts destination, by base name.
     * A missing directory, or a path naming a file, lists nothing (the JSON reply is `{}`).
     *
     * @param request the ListArtifactFilesRequest
     * @return the server's ListArtifactFilesResponse
     * @throws PolytrackException when the server refuses the call or cannot be reached
     */
    public ListArtifactFilesResponse listArtifactFiles(ListArtifactFilesRequest request) {
        return invoker.call(ArtifactsServiceGrpc.getListArtifactFilesMethod(), request);
    }

    /**
     * Deletes a file, or a directory with everything below it. Deleting a missing path succeeds.
     *
     * @param request the DeleteArtifactRequest
     * @return the server's DeleteArtifactResponse
     * @throws PolytrackException when the server refuses the call or cannot be reached
     */
    public DeleteArtifactResponse deleteArtifact(DeleteArtifactRequest request) {
        return invoker.call(ArtifactsServiceGrpc.getDeleteArtifactMethod(), request);
    }

    /**
     * Describes what the server supports; MLflow clients read it before transferring artifacts.
     *
     * @param request the GetServerInfoRequest
     * @return the server's GetServerInfoResponse
     * @throws PolytrackException when the server refuses the call or cannot be reached
     */
    public GetServerInfoResponse getServerInfo(GetServerInfoRequest request) {
        return invoker.call(ArtifactsServiceGrpc.getGetServerInfoMethod(), request);
    }

    /** Size of the chunks an upload sends. */
    static final int UPLOAD_CHUNK_BYTES = 1024 * 1024;

    /**
     * Uploads a file from a stream (UploadArtifact): 1 MiB chunks, with the CRC-32C (Castagnoli) of the whole
     * content in the last message, so the server stores the file only when every byte arrived intact. Flow
     * control keeps at most a few chunks in memory whatever the file size.
     *
     * @param path where to store it, relative to the run's artifact root (or to the artifacts destination
     *     when {@code runId} is null)
     * @param runId the run, or {@code null}
     * @param data the content; read to its end, not closed
     * @return where the server stored the file, its size and CRC-32C (an unsigned 32-bit value in an
     *     {@code int}: compare it through {@link Integer#toUnsignedLong})
     * @throws IOException when {@code data} cannot be read (the upload is then cancelled)
     * @throws PolytrackException when the server refuses the upload
     */
    public UploadArtifactResponse upload(String path, String runId, InputStream data) throws IOException {
        ClientCall<UploadArtifactRequest, UploadArtifactResponse> call =
                invoker.channel().newCall(ArtifactsServiceGrpc.getUploadArtifactMethod(), CallOptions.DEFAULT);
        UploadListener listener = new UploadListener();
        call.start(listener, new Metadata());
        call.request(1);
        CRC32C crc = new CRC32C();
        byte[] buffer = new byte[UPLOAD_CHUNK_BYTES];
        boolean first = true;
        try {
            int n;
            while ((n = data.readNBytes(buffer, 0, buffer.length)) > 0 && !listener.result.isDone()) {
                UploadArtifactRequest.Builder message = UploadArtifactRequest.newBuilder()
                        .setData(ByteString.copyFrom(buffer, 0, n));
                if (first) {
                    addTarget(message, path, runId);
                    first = false;
                }
                crc.update(buffer, 0, n);
                listener.awaitReady(call);
                call.sendMessage(message.build());
            }
        } catch (IOException | RuntimeException failure) {
            call.cancel("the upload's input failed", failure);
            throw failure;
        }
        // fixed32 travels as an int: the cast keeps the checksum's 32 bits, which is all getValue() holds.
        UploadArtifactRequest.Builder last = UploadArtifactRequest.newBuilder().setCrc32C((int) crc.getValue());
        if (first) {
            addTarget(last, path, runId);
        }
        if (!listener.result.isDone()) {
            call.sendMessage(last.build());
            call.halfClose();
        }
        try {
            return listener.result.get();
        } catch (ExecutionException failed) {
            throw RpcInvoker.translate(failed.getCause());
        } catch (InterruptedException interrupted) {
            call.cancel("interrupted", interrupted);
            Thread.currentThread().interrupt();
            throw RpcInvoker.translate(interrupted);
        }
    }

    /**
     * Downloads a file as a stream (DownloadArtifact), checking its CRC-32C at the end.
     *
     * @param path the file, relative to the run's artifact root (or to the artifacts destination)
     * @param runId the run, or {@code null}
     * @return the content; close it (reading to the end closes the stream on the server too)
     * @throws PolytrackException when the server refuses the download (e.g. RESOURCE_DOES_NOT_EXIST)
     */
    public ArtifactDownload download(String path, String runId) {
        return download(path, runId, 0);
    }

    /**
     * Downloads a file from a byte offset (to resume an interrupted download); the checksum is checked
     * only from offset 0.
     *
     * @param path the file
     * @param runId the run, or {@code null}
     * @param offset the first byte to receive
     * @return the content from {@code offset}
     */
    public ArtifactDownload download(String path, String runId, long offset) {
        DownloadArtifactRequest.Builder request = DownloadArtifactRequest.newBuilder().setPath(path);
        if (runId != null) {
            request.setRunId(runId);
        }
        if (offset != 0) {
            request.setOffset(offset);
        }
        ClientCall<DownloadArtifactRequest, DownloadArtifactResponse> call =
                invoker.channel().newCall(ArtifactsServiceGrpc.getDownloadArtifactMethod(), CallOptions.DEFAULT);
        Iterator<DownloadArtifactResponse> messages = ClientCalls.blockingServerStreamingCall(call, request.build());
        return new ArtifactDownload(call, messages, offset == 0);
    }

    private static void addTarget(UploadArtifactRequest.Builder message, String path, String runId) {
        message.setPath(path);
        if (runId != null) {
            message.setRunId(runId);
        }
    }

    /** Collects the answer of an upload and wakes the sender when the transport can take more. */
    private static final class UploadListener extends ClientCall.Listener<UploadArtifactResponse> {
        final CompletableFuture<UploadArtifactResponse> result = new CompletableFuture<>();
        private UploadArtifactResponse response;

        @Override
        public void onMessage(UploadArtifactResponse message) {
            response = message;
        }

        @Override
        public void onClose(Status status, Metadata trailers) {
            if (status.isOk()) {
                result.complete(response);
            } else {
                result.completeExceptionally(status.asRuntimeException(trailers));
            }
            synchronized (this) {
                notifyAll();
            }
        }

        @Override
        public synchronized void onReady() {
            notifyAll();
        }

        synchronized void awaitReady(ClientCall<?, ?> call) throws InterruptedIOException {
            while (!call.isReady() && !result.isDone()) {
                try {
                    wait(100);
                } catch (InterruptedException interrupted) {
                    Thread.currentThread().interrupt();
                    throw new InterruptedIOException("upload interrupted");
                }
            }
        }
    }

}
