package dev.polytrack.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.polytrack.v1.GetRunRequest;
import dev.polytrack.v1.TrackingServiceGrpc;
import io.grpc.Grpc;
import io.grpc.Server;
import io.grpc.TlsServerCredentials;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * TLS on and off. polytrack serves plaintext gRPC (TLS is a proxy's job), so the TLS side is a bare gRPC
 * server with a self-signed certificate made by openssl, implementing no RPC: a call that reaches it
 * answers UNIMPLEMENTED, which proves the handshake succeeded.
 */
class TlsTest {
    @Test
    void trustedCertificateConnectsAndPlaintextDoesNot() throws Exception {
        Path dir = Files.createTempDirectory("polytrack-java-tls-");
        File cert = dir.resolve("cert.pem").toFile();
        File key = dir.resolve("key.pem").toFile();
        Process openssl = new ProcessBuilder("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                "-keyout", key.toString(), "-out", cert.toString(), "-days", "1", "-subj", "/CN=localhost",
                "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1").redirectErrorStream(true).start();
        String opensslOutput = new String(openssl.getInputStream().readAllBytes());
        assertEquals(0, openssl.waitFor(), "openssl could not make a certificate: " + opensslOutput);
        Server server = Grpc.newServerBuilderForPort(0, TlsServerCredentials.create(cert, key))
                .addService(new TrackingServiceGrpc.TrackingServiceImplBase() {}).build().start();
        String target = "localhost:" + server.getPort();
        GetRunRequest request = GetRunRequest.newBuilder().setRunId("x").build();
        try (PolytrackClient trusting = PolytrackClient.forTarget(target).trustCertificates(cert)
                     .withRetry(RetryPolicy.NEVER).build();
             PolytrackClient plaintext = PolytrackClient.forTarget(target).withRetry(RetryPolicy.NEVER).build();
             PolytrackClient untrusting = PolytrackClient.forTarget(target).useTls(true)
                     .withRetry(RetryPolicy.NEVER).build()) {
            PolytrackException reached = assertThrows(PolytrackException.class, () -> trusting.tracking().getRun(request));
            assertEquals("ENDPOINT_NOT_FOUND", reached.errorCode());
            assertThrows(UnavailableException.class, () -> plaintext.tracking().getRun(request));
            assertThrows(UnavailableException.class, () -> untrusting.tracking().getRun(request));
        } finally {
            server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            LiveServer.deleteStorage(dir);
        }
    }
}
