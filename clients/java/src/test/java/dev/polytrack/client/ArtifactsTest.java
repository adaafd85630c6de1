package dev.polytrack.client;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.polytrack.v1.*;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Random;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/** Artifact upload and download as streams, with checksums, listing and deletion, on a live server. */
class ArtifactsTest extends LiveServerTest {
    private static byte[] randomBytes(int size) {
        byte[] data = new byte[size];
        new Random(7).nextBytes(data);
        return data;
    }

    private static String sha256(byte[] data) {
        return HexFormat.of().formatHex(Artifacts.sha256().digest(data));
    }

    @Test
    void uploadAndDownloadOfARunsArtifactKeepEveryByte() throws IOException {
        String experimentId = client.createExperiment("artifacts-" + UUID.randomUUID());
        String runId = client.tracking().createRun(CreateRunRequest.newBuilder().setExperimentId(experimentId).build())
                .getRun().getInfo().getRunId();
        byte[] data = randomBytes(3 * Artifacts.UPLOAD_CHUNK_BYTES + 12345);

        UploadArtifactResponse stored = client.artifacts().upload("model/weights.bin", runId, new ByteArrayInputStream(data));
        assertEquals(data.length, stored.getFileSize());
        assertEquals(sha256(data), stored.getSha256());

        try (ArtifactDownload download = client.artifacts().download("model/weights.bin", runId)) {
            assertEquals(data.length, download.fileSize());
            byte[] received = download.readAllBytes();
            assertArrayEquals(data, received);
            assertEquals(sha256(data), download.serverSha256());
        }
        try (InputStream tail = client.artifacts().download("model/weights.bin", runId, data.length - 100)) {
            assertArrayEquals(Arrays.copyOfRange(data, data.length - 100, data.length), tail.readAllBytes());
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
