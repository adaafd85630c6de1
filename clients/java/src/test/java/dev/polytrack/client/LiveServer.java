package dev.polytrack.client;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * A real polytrack server for the tests: started from the working tree on free ports (or given ones),
 * on a fresh SQLite file and artifact folder, and stopped by {@link #close()}.
 *
 * <p>The command is {@code $POLYTRACK_PYTHON -m polytrack.cli server} when POLYTRACK_PYTHON is set, else
 * {@code polytrack server} when on PATH, else {@code python3 -m polytrack.cli server}.
 */
final class LiveServer implements AutoCloseable {
    private static final Pattern LISTENING =
            Pattern.compile("polytrack server listening: http://[^\\s:]+:(\\d+) grpc://[^\\s]+:(\\d+)");

    final Path directory;
    final int httpPort;
    final int grpcPort;
    private final Process process;
    private final Thread killOnExit;
    private final StringBuilder output = new StringBuilder();

    private LiveServer(Path directory, int httpPort, int grpcPort) throws IOException {
        this.directory = directory;
        List<String> command = new ArrayList<>(serverCommand());
        command.addAll(List.of("--host", "127.0.0.1", "--port", String.valueOf(httpPort),
                "--grpc-port", String.valueOf(grpcPort),
                "--backend-store-uri", "sqlite:///" + directory.resolve("db.sqlite"),
                "--artifacts-destination", directory.resolve("artifacts").toString()));
        process = new ProcessBuilder(command).redirectErrorStream(true).start();
        // A test JVM that dies without running close() must not leave the server behind.
        killOnExit = new Thread(process::destroyForcibly, "polytrack-server-reaper");
        Runtime.getRuntime().addShutdownHook(killOnExit);
        CompletableFuture<Matcher> ready = new CompletableFuture<>();
        Thread reader = new Thread(() -> readOutput(ready), "polytrack-server-output");
        reader.setDaemon(true);
        reader.start();
        Matcher ports;
        try {
            ports = ready.get(180, TimeUnit.SECONDS); // generous: CI runs suites side by side
        } catch (Exception notReady) {
            process.destroyForcibly();
            throw new IOException("polytrack server did not start: " + String.join(" ", command) + "\n" + output(),
                    notReady);
        }
        this.httpPort = Integer.parseInt(ports.group(1));
        this.grpcPort = Integer.parseInt(ports.group(2));
    }

    /** A server on free ports with fresh storage. */
    static LiveServer start() throws IOException {
        return new LiveServer(Files.createTempDirectory("polytrack-java-test-"), 0, 0);
    }

    /** A server on the given ports over the storage of an earlier one (to stop and restart a server). */
    static LiveServer restart(Path directory, int httpPort, int grpcPort) throws IOException {
        return new LiveServer(directory, httpPort, grpcPort);
    }

    String grpcTarget() {
        return "127.0.0.1:" + grpcPort;
    }

    PolytrackClient client() {
        return PolytrackClient.forTarget(grpcTarget()).build();
    }

    private static List<String> serverCommand() {
        String python = System.getenv("POLYTRACK_PYTHON");
        if (python != null && !python.isBlank()) {
            return List.of(python, "-m", "polytrack.cli", "server");
        }
        for (String dir : System.getenv().getOrDefault("PATH", "").split(java.io.File.pathSeparator)) {
            if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, "polytrack"))) {
                return List.of(Path.of(dir, "polytrack").toString(), "server");
            }
        }
        return List.of("python3", "-m", "polytrack.cli", "server");
    }

    private void readOutput(CompletableFuture<Matcher> ready) {
        try (BufferedReader lines = new BufferedReader(
                new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = lines.readLine()) != null) {
                synchronized (output) {
                    output.append(line).append('\n');
                }
                Matcher matcher = LISTENING.matcher(line);
                if (!ready.isDone() && matcher.find()) {
                    ready.complete(matcher);
                }
            }
        } catch (IOException ignored) {
            // the process ended
        }
        ready.completeExceptionally(new IOException("server output ended"));
    }

    String output() {
        synchronized (output) {
            return output.toString();
        }
    }

    /** Stops the server (SIGTERM, then SIGKILL after 15 s), keeping its storage. */
    void stop() {
        try {
            Runtime.getRuntime().removeShutdownHook(killOnExit);
        } catch (IllegalStateException exiting) {
            // the JVM is shutting down: the hook runs anyway
        }
        process.destroy();
        try {
            if (!process.waitFor(15, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException interrupted) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }

    /** Stops the server and deletes its storage. */
    @Override
    public void close() throws IOException {
        stop();
        deleteStorage(directory);
    }

    static void deleteStorage(Path directory) throws IOException {
        try (Stream<Path> paths = Files.walk(directory)) {
            for (Path path : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(path);
            }
        }
    }
}
