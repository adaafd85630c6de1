package dev.polytrack.client;

import dev.polytrack.v1.DownloadArtifactResponse;
import io.grpc.ClientCall;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.io.InputStream;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Iterator;

/**
 * The bytes of one artifact as they arrive from a DownloadArtifact stream. At the end of a download from
 * offset 0 the SHA-256 of what was read is checked against the one the server sent; a difference fails
 * the last read with an IOException. Closing before the end cancels the stream.
 */
public final class ArtifactDownload extends InputStream {
    private final ClientCall<?, DownloadArtifactResponse> call;
    private final Iterator<DownloadArtifactResponse> messages;
    private final MessageDigest digest;
    private final long fileSize;
    private byte[] chunk;
    private int position;
    private boolean finished;
    private String serverSha256 = "";

    ArtifactDownload(ClientCall<?, DownloadArtifactResponse> call, Iterator<DownloadArtifactResponse> messages,
            boolean verify) {
        this.call = call;
        this.messages = messages;
        this.digest = verify ? Artifacts.sha256() : null;
        DownloadArtifactResponse first = nextMessage();
        if (first == null) {
            throw new PolytrackException("the server ended the download without sending the file size",
                    "INTERNAL_ERROR", null, io.grpc.Status.Code.INTERNAL, null);
        }
        this.fileSize = first.getFileSize();
        accept(first);
    }

    /** @return the size of the whole file in bytes, as the server announced it */
    public long fileSize() {
        return fileSize;
    }

    /** @return the SHA-256 the server sent at the end (empty before the end is read) */
    public String serverSha256() {
        return serverSha256;
    }

    @Override
    public int read() throws IOException {
        byte[] one = new byte[1];
        int n = read(one, 0, 1);
        return n < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public int read(byte[] buffer, int offset, int length) throws IOException {
        if (length == 0) {
            return 0;
        }
        while (chunk == null || position == chunk.length) {
            if (finished) {
                return -1;
            }
            DownloadArtifactResponse message;
            try {
                message = nextMessage();
            } catch (PolytrackException failure) {
                finished = true;
                throw new IOException("artifact download failed: " + failure.getMessage(), failure);
            }
            if (message == null) {
                finished = true;
                verify();
                return -1;
            }
            accept(message);
        }
        int n = Math.min(length, chunk.length - position);
        System.arraycopy(chunk, position, buffer, offset, n);
        position += n;
        return n;
    }

    @Override
    public void close() {
        if (!finished) {
            finished = true;
            call.cancel("download closed by the client", null);
        }
    }

    private DownloadArtifactResponse nextMessage() {
        try {
            return messages.hasNext() ? messages.next() : null;
        } catch (StatusRuntimeException error) {
            throw RpcInvoker.translate(error);
        }
    }

    private void accept(DownloadArtifactResponse message) {
        chunk = message.getData().toByteArray();
        position = 0;
        if (digest != null) {
            digest.update(chunk);
        }
        if (!message.getSha256().isEmpty()) {
            serverSha256 = message.getSha256();
        }
    }

    private void verify() throws IOException {
        if (digest == null || serverSha256.isEmpty()) {
            return;
        }
        String received = HexFormat.of().formatHex(digest.digest());
        if (!received.equals(serverSha256)) {
            throw new IOException("artifact checksum mismatch: the server sent SHA-256 " + serverSha256
                    + ", the bytes received hash to " + received);
        }
    }
}
