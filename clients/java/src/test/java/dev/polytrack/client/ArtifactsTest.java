package dev.polytrack.client;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.polytrack.v1.*;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.OptionalLong;
import java.util.Random;
import java.util.UUID;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;

/** Artifact upload and download as streams, with checksums, listing and deletion, on a live server. */
class ArtifactsTest extends LiveServerTest {
    private static byte[] randomBytes(int size) {
        byte[] data = new byte[size];
        new Random(7).nextBytes(data);
        return data;
    }

    private static long crc32c(byte[] data) {
        CRC32C crc = new CRC32C();
        crc.update(data);
        return crc.getValue();
    }

    @Test
    void uploadAndDownloadOfARunsArtifactKeepEveryByte() throws IOException {
        String experimentId = client.createExperiment("artifacts-" + UUID.randomUUID());
        String runId = client.tracking().createRun(CreateRunRequest.newBuilder().setExperimentId(experimentId).build())
                .getRun().getInfo().getRunId();
        byte[] data = randomBytes(3 * Artifacts.UPLOAD_CHUNK_BYTES + 12345);

        UploadArtifactResponse stored = client.artifacts().upload("model/weights.bin", runId, new ByteArrayInputStream(data));
        assertEquals(data.length, stored.getFileSize());
        assertTrue(stored.hasCrc32C());
        assertEquals(crc32c(data), Integer.toUnsignedLong(stored.getCrc32C()));

        try (ArtifactDownload download = client.artifacts().download("model/weights.bin", runId)) {
            assertEquals(data.length, download.fileSize());
            assertEquals(OptionalLong.empty(), download.serverCrc32c(), "the checksum comes with the last message");
            byte[] received = download.readAllBytes();
            assertArrayEquals(data, received);
            assertEquals(OptionalLong.of(crc32c(data)), download.serverCrc32c());
        }
        try (ArtifactDownload tail = client.artifacts().download("model/weights.bin", runId, data.length - 100)) {
            assertArrayEquals(Arrays.copyOfRange(data, data.length - 100, data.length), tail.readAllBytes());
            // A resumed download still receives the checksum of the whole file, to check once reassembled.
            assertEquals(OptionalLong.of(crc32c(data)), tail.serverCrc32c());
        }

        ListArtifactsResponse listed = client.tracking().listArtifacts(ListArtifactsRequest.newBuilder().setRunId(runId)
                .setPath("model").build());
        assertEquals(1, listed.getFilesCount());
        assertTrue(listed.getFiles(0).getPath().endsWith("weights.bin"));
    }

    @Test
    void emptyFilesListingAndDeletionInTheArtifactsDestination() throws IOException {
        String folder = "shared-" + UUID.randomUUID();
        client.artifacts().upload(folder + "/empty.txt", null, new ByteArrayInputStream(new byte[0]));
        client.artifacts().upload(folder + "/small.txt", null, new ByteArrayInputStream("hello".getBytes()));
        try (ArtifactDownload empty = client.artifacts().download(folder + "/empty.txt", null)) {
            assertEquals(0, empty.readAllBytes().length);
            // The CRC-32C of nothing is 0: still sent, and not mistaken for a missing checksum.
            assertEquals(OptionalLong.of(0), empty.serverCrc32c());
        }
        ListArtifactFilesResponse files = client.artifacts().listArtifactFiles(
                ListArtifactFilesRequest.newBuilder().setPath(folder).build());
        assertEquals(2, files.getFilesCount());

        client.artifacts().deleteArtifact(DeleteArtifactRequest.newBuilder().setPath(folder + "/small.txt").build());
        PolytrackException gone = assertThrows(PolytrackException.class,
                () -> client.artifacts().download(folder + "/small.txt", null));
        assertEquals("RESOURCE_DOES_NOT_EXIST", gone.errorCode());
        assertTrue(gone instanceof ResourceNotFoundException);
    }

    @Test
    void clientAndServerAgreeOnTheCastagnoliCheckValue() throws IOException {
        // "123456789" is the CRC catalogue's check input: CRC-32C gives e3069283, where the more common
        // CRC-32 (IEEE, java.util.zip.CRC32) would give cbf43926, so a server on the wrong polynomial fails here.
        byte[] check = "123456789".getBytes(StandardCharsets.US_ASCII);
        String path = "check-" + UUID.randomUUID() + "/digits.txt";
        UploadArtifactResponse stored = client.artifacts().upload(path, null, new ByteArrayInputStream(check));
        assertEquals(0xe3069283L, Integer.toUnsignedLong(stored.getCrc32C()));
        try (ArtifactDownload download = client.artifacts().download(path, null)) {
            assertArrayEquals(check, download.readAllBytes());
            assertEquals(OptionalLong.of(0xe3069283L), download.serverCrc32c());
        }
    }

    @Test
    void pathsOutsideTheStoreAreRefused() {
        PolytrackException refused = assertThrows(PolytrackException.class, () -> client.artifacts()
                .upload("../escape.txt", null, new ByteArrayInputStream("x".getBytes())));
        assertEquals("INVALID_PARAMETER_VALUE", refused.errorCode());
    }

    @Test
    void serverInfoAnswers() {
        assertTrue(client.artifacts().getServerInfo(GetServerInfoRequest.getDefaultInstance()).isInitialized());
    }
}
