package dev.polytrack.client;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * Base of the test classes that share one live server and client: started before the class's first
 * test, stopped after its last. Test classes run one after another (surefire's default), so each
 * class gets its own server in these fields.
 */
abstract class LiveServerTest {
    static LiveServer server;
    static PolytrackClient client;

    @BeforeAll
    static void startServer() throws Exception {
        server = LiveServer.start();
        client = server.client();
    }

    @AfterAll
    static void stopServer() throws Exception {
        client.close();
        server.close();
    }
}
