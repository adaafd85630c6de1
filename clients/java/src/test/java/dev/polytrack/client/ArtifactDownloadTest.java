package dev.polytrack.client;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.polytrack.v1.DownloadArtifactRequest;
import dev.polytrack.v1.DownloadArtifactResponse;
import io.grpc.ClientCall;
import io.grpc.Metadata;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.OptionalLong;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;

/**
 * Checksum verification of {@link ArtifactDownload} on hand-made streams: a live server always sends the
 * right CRC-32C, so only a forged stream shows what happens when the bytes and the checksum disagree.
 */
class ArtifactDownloadTest {
    private static final byte[] CONTENT = "hello, artifacts".getBytes(StandardCharsets.US_ASCII);

    /** Stands in for the gRPC call: records a cancellation, which is all ArtifactDownload does with it. */
    private static final class RecordingCall extends ClientCall<DownloadArtifactRequest, DownloadArtifactResponse> {
        String cancelledBecause;

        @Override
        public void start(Listener<DownloadArtifactResponse> listener, Metadata headers) {}

        @Override
        public void request(int numMessages) {}

        @Override
        public void cancel(String message, Throwable cause) {
            cancelledBecause = message;
        }

        @Override
        public void halfClose() {}

        @Override
        public void sendMessage(DownloadArtifactRequest message) {}
    }

    private static long crc32c(byte[] data) {
        CRC32C crc = new CRC32C();
        crc.update(data);
        return crc.getValue();
    }

    /** The stream a server sends for CONTENT from byte 0 in two chunks, ending with the given checksum. */
    private static List<DownloadArtifactResponse> stream(long crc32c) {
        return List.of(
                DownloadArtifactResponse.newBuilder().setFileSize(CONTENT.length)
                        .setData(ByteString.copyFrom(CONTENT, 0, 5)).build(),
                DownloadArtifactResponse.newBuilder()
                        .setData(ByteString.copyFrom(CONTENT, 5, CONTENT.length - 5))
                        .setCrc32C((int) crc32c).build());
    }

    @Test
    void aMatchingChecksumEndsTheStreamQuietly() throws IOException {
        RecordingCall call = new RecordingCall();
        try (ArtifactDownload download = new ArtifactDownload(call, stream(crc32c(CONTENT)).iterator(), true)) {
            assertArrayEquals(CONTENT, download.readAllBytes());
            assertEquals(OptionalLong.of(crc32c(CONTENT)), download.serverCrc32c());
        }
        assertNull(call.cancelledBecause, "a stream read to its end is not cancelled");
    }

    @Test
    void aChecksumMismatchFailsTheLastReadNamingBothValues() throws IOException {
        // The top bit set checks that the int on the wire is read back as an unsigned value.
        long forged = 0x80000001L;
        try (ArtifactDownload download = new ArtifactDownload(new RecordingCall(), stream(forged).iterator(), true)) {
            byte[] buffer = new byte[CONTENT.length];
            assertEquals(5, download.read(buffer, 0, buffer.length));
            assertEquals(CONTENT.length - 5, download.read(buffer, 5, buffer.length - 5));
            IOException mismatch = assertThrows(IOException.class, () -> download.read(buffer, 0, buffer.length));
            assertTrue(mismatch.getMessage().contains("80000001"), mismatch.getMessage());
            assertTrue(mismatch.getMessage().contains(String.format("%08x", crc32c(CONTENT))), mismatch.getMessage());
            assertEquals(OptionalLong.of(forged), download.serverCrc32c());
        }
    }

    @Test
    void aStreamEndingWithoutTheChecksumFailsTheLastRead() throws IOException {
        List<DownloadArtifactResponse> unchecked = List.of(DownloadArtifactResponse.newBuilder()
                .setFileSize(CONTENT.length).setData(ByteString.copyFrom(CONTENT)).build());
        try (ArtifactDownload download = new ArtifactDownload(new RecordingCall(), unchecked.iterator(), true)) {
            IOException incomplete = assertThrows(IOException.class, download::readAllBytes);
            assertTrue(incomplete.getMessage().contains("without the file's CRC-32C"), incomplete.getMessage());
            assertEquals(OptionalLong.empty(), download.serverCrc32c());
        }
    }

    @Test
    void aResumedDownloadIsNotCheckedAsItLacksTheStartOfTheFile() throws IOException {
        // The checksum covers the whole file; from an offset the client cannot compute it, so never fails.
        List<DownloadArtifactResponse> tail = List.of(DownloadArtifactResponse.newBuilder()
                .setFileSize(CONTENT.length).setData(ByteString.copyFrom(CONTENT, 5, CONTENT.length - 5))
                .setCrc32C((int) crc32c(CONTENT)).build());
        try (ArtifactDownload download = new ArtifactDownload(new RecordingCall(), tail.iterator(), false)) {
            assertEquals(CONTENT.length - 5, download.readAllBytes().length);
            assertEquals(OptionalLong.of(crc32c(CONTENT)), download.serverCrc32c());
        }
    }

    @Test
    void closingBeforeTheEndCancelsTheStream() {
        RecordingCall call = new RecordingCall();
        ArtifactDownload download = new ArtifactDownload(call, stream(crc32c(CONTENT)).iterator(), true);
        download.close();
        assertEquals("download closed by the client", call.cancelledBecause);
        assertEquals(OptionalLong.empty(), download.serverCrc32c());
    }
}
