package dev.polytrack.client;

import dev.polytrack.v1.DownloadArtifactResponse;
import io.grpc.ClientCall;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.io.InputStream;
import java.util.Iterator;
import java.util.OptionalLong;
import java.util.zip.CRC32C;

/**
 * The bytes of one artifact as they arrive from a DownloadArtifact stream. At the end of a download from
 * offset 0 the CRC-32C (Castagnoli) of what was read is checked against the one the server sent; a
 * difference, or a stream ending without it, fails the last read with an IOException. Closing before the end
 * cancels the stream.
 */
public final class ArtifactDownload extends InputStream {
    private final ClientCall<?, DownloadArtifactResponse> call;
    private final Iterator<DownloadArtifactResponse> messages;
    /** Checksum of the bytes received so far; {@code null} when resuming, as the start of the file is missing. */
    private final CRC32C crc;
    private final long fileSize;
    private byte[] chunk;
    private int position;
    private boolean finished;
    private OptionalLong serverCrc32c = OptionalLong.empty();

    ArtifactDownload(ClientCall<?, DownloadArtifactResponse> call, Iterator<DownloadArtifactResponse> messages,
            boolean verify) {
        this.call = call;
        this.messages = messages;
        this.crc = verify ? new CRC32C() : null;
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

    /**
     * The CRC-32C of the whole file (from byte 0, also when the download started at an offset), as the
     * server sent it in the last message of the stream.
     *
     * @return the checksum as an unsigned 32-bit value (0 to 2<sup>32</sup>-1, comparable with
     *     {@link CRC32C#getValue()}); empty until the end of the stream has been read
     */
    public OptionalLong serverCrc32c() {
        return serverCrc32c;
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
        if (crc != null) {
            crc.update(chunk);
        }
        // Presence, not a non-zero value, says the server sent it: 0 is a valid CRC-32C (that of an empty file).
        if (message.hasCrc32C()) {
            serverCrc32c = OptionalLong.of(Integer.toUnsignedLong(message.getCrc32C()));
        }
    }

    private void verify() throws IOException {
        if (crc == null) {
            return;
        }
        if (serverCrc32c.isEmpty()) {
            // A stream that ends without its last message may have lost chunks as well.
            throw new IOException("artifact download incomplete: the server's stream ended without the file's CRC-32C");
        }
        long received = crc.getValue();
        if (received != serverCrc32c.getAsLong()) {
            throw new IOException("artifact checksum mismatch: the server sent CRC-32C "
                    + String.format("%08x", serverCrc32c.getAsLong()) + ", the bytes received give "
                    + String.format("%08x", received));
        }
    }
}
