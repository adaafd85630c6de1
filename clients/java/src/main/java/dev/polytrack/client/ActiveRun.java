package dev.polytrack.client;

import dev.polytrack.v1.LogParamRequest;
import dev.polytrack.v1.RunStatus;
import dev.polytrack.v1.SetTagRequest;
import dev.polytrack.v1.TrackingServiceGrpc;
import dev.polytrack.v1.UpdateRunRequest;
import io.grpc.Status;
import java.time.Duration;
import java.util.TreeSet;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A running run whose metrics are sent in the background.
 *
 * <p>{@link #logMetric} appends the point to a batch held as columns and returns at once; full batches
 * (1000 points, one LogBatch each) wait in a bounded queue that {@link Options#concurrency()} sender
 * threads drain, several requests in flight. A batch that stays unfilled is sent after
 * {@link Options#flushInterval()}.
 *
 * <ul>
 *   <li><b>Bounded memory, nothing dropped.</b> At most {@link Options#maxQueuedPoints()} points wait;
 *       when the queue is full, {@code logMetric} waits for the senders (back-pressure) rather than drop
 *       points or grow without bound.
 *   <li><b>Transient failures</b> (server unreachable or overloaded) are retried under the client's
 *       {@link RetryPolicy}; LogBatch is safe to repeat. Once a batch has used up its retries, the
 *       batches behind it get one attempt each until one succeeds, so that {@code close()} reports the
 *       points that could not be sent instead of waiting out every batch's retries in turn.
 *   <li><b>Rejected points</b> (a bad key, a deleted run) are narrowed down by splitting the batch, so
 *       the other points are still logged; the first failure is thrown by the next {@link #flush()} or by
 *       {@link #close()}, with the number of points that were not logged.
 *   <li><b>Close</b> flushes every queued point, then ends the run FINISHED, or FAILED when {@link #fail()}
 *       was called or points could not be logged. Java's try-with-resources does not tell
 *       {@code close()} about an exception in its body: call {@link #fail()} in a catch block, or use
 *       {@link PolytrackClient#withRun}, which does.
 * </ul>
 *
 * <p>Params and tags are sent at once, in the calling thread, so that a refused value fails where it is
 * logged. All methods are thread-safe. Close every run: the sender threads are daemons, so points still
 * queued when the JVM exits without {@code close()} are not sent.
 */
public final class ActiveRun implements AutoCloseable {
    /**
     * How an ActiveRun sends its metrics.
     *
     * @param maxQueuedPoints points that may wait to be sent before {@code logMetric} waits (bounded memory)
     * @param batchSize points per LogBatch request, 1 to 1000
     * @param concurrency LogBatch requests in flight at once (sender threads)
     * @param flushInterval how long a batch that is not full may wait before it is sent anyway
     */
    public record Options(int maxQueuedPoints, int batchSize, int concurrency, Duration flushInterval) {
        /**
         * Checks the arguments.
         *
         * @param maxQueuedPoints points that may wait to be sent, at least batchSize
         * @param batchSize points per LogBatch request, 1 to 1000
         * @param concurrency LogBatch requests in flight at once, 1 to 64
         * @param flushInterval how long an unfilled batch may wait, positive
         */
        public Options {
            if (batchSize < 1 || batchSize > 1000) {
                throw new IllegalArgumentException("batchSize must be 1 to 1000 (LogBatch's limit), got " + batchSize);
            }
            if (maxQueuedPoints < batchSize) {
                throw new IllegalArgumentException(
                        "maxQueuedPoints must be at least batchSize (" + batchSize + "), got " + maxQueuedPoints);
            }
            if (concurrency < 1 || concurrency > 64) {
                throw new IllegalArgumentException("concurrency must be 1 to 64, got " + concurrency);
            }
            if (flushInterval == null || flushInterval.isNegative() || flushInterval.isZero()) {
                throw new IllegalArgumentException("flushInterval must be positive, got " + flushInterval);
            }
        }

        /** @return 100,000 queued points, 1000 per request, 4 requests in flight, 1 s flush interval */
        public static Options defaults() {
            return new Options(100_000, 1000, 4, Duration.ofSeconds(1));
        }
    }

    private static final MetricBatch STOP = new MetricBatch(0);

    private final PolytrackClient client;
    private final String runId;
    private final Options options;
    private final BlockingQueue<MetricBatch> queue;
    private final BlockingQueue<MetricBatch> spare;
    private final Thread[] senders;
    private final Object lock = new Object();
    private final Object doneLock = new Object();
    /** Sequence number of the last batch sealed. Guarded by doneLock. */
    private long sealed;
    /** Sequence numbers of the batches sealed and not yet dealt with (sent or failed). Guarded by doneLock. */
    private final TreeSet<Long> unfinished = new TreeSet<>();
    private MetricBatch current;
    private volatile boolean closed;
    private volatile boolean failed;
    /** A LogBatch failed after all its retries; cleared by the next success. */
    private volatile boolean serverDown;
    private PolytrackException firstFailure;
    private long rejectedPoints;

    ActiveRun(PolytrackClient client, String runId, Options options) {
        this.client = client;
        this.runId = runId;
        this.options = options;
        int slots = Math.max(1, options.maxQueuedPoints() / options.batchSize());
        this.queue = new ArrayBlockingQueue<>(slots);
        this.spare = new ArrayBlockingQueue<>(slots + options.concurrency() + 1);
        this.senders = new Thread[options.concurrency()];
        for (int i = 0; i < senders.length; i++) {
            senders[i] = new Thread(this::sendLoop, "polytrack-run-" + runId + "-sender-" + i);
            senders[i].setDaemon(true);
            senders[i].start();
        }
    }

    /** @return the run's id */
    public String runId() {
        return runId;
    }

    /**
     * Queues a metric point measured now. Returns at once unless {@link Options#maxQueuedPoints()} points
     * are waiting already.
     *
     * @param key metric name
     * @param value the measurement (NaN and infinities allowed)
     * @param step training step or sequence number
     */
    public void logMetric(String key, double value, long step) {
        logMetric(key, value, step, System.currentTimeMillis());
    }

    /**
     * Queues a metric point.
     *
     * @param key metric name
     * @param value the measurement
     * @param step training step or sequence number
     * @param timestampMillis when it was measured, in milliseconds since the Unix epoch (not negative)
     */
    public void logMetric(String key, double value, long step, long timestampMillis) {
        if (key == null) {
            throw new IllegalArgumentException("metric key must not be null");
        }
        if (timestampMillis < 0) {
            throw new IllegalArgumentException("metric timestamp must not be negative, got " + timestampMillis);
        }
        MetricBatch full = null;
        synchronized (lock) {
            if (closed) {
                throw new IllegalStateException("run " + runId + " is closed");
            }
            MetricBatch batch = current;
            if (batch == null) {
                batch = spare.poll();
                current = batch = batch != null ? batch : new MetricBatch(options.batchSize());
            }
            batch.add(key, value, timestampMillis, step);
            if (batch.isFull()) {
                full = batch;
                current = null;
                seal(batch);
            }
        }
        if (full != null) {
            enqueue(full);
        }
    }

    /**
     * Logs a param now (not queued).
     *
     * @param key param name
     * @param value its value; logging another value for a logged key fails
     * @throws PolytrackException when the server refuses it
     */
    public void logParam(String key, String value) {
        client.tracking().logParam(LogParamRequest.newBuilder().setRunId(runId).setKey(key).setValue(value).build());
    }

    /**
     * Sets a tag now (not queued).
     *
     * @param key tag name
     * @param value its value
     * @throws PolytrackException when the server refuses it
     */
    public void setTag(String key, String value) {
        client.tracking().setTag(SetTagRequest.newBuilder().setRunId(runId).setKey(key).setValue(value).build());
    }

    /** Makes {@link #close()} end the run FAILED (e.g. from a catch block). */
    public void fail() {
        failed = true;
    }

    /**
     * Waits until every point queued before this call has been sent.
     *
     * @throws PolytrackException the first failure since the last flush, when points could not be logged
     */
    public void flush() {
        MetricBatch partial = null;
        long target;
        synchronized (lock) {
            if (current != null && current.size() > 0) {
                partial = current;
                current = null;
                seal(partial);
            }
            synchronized (doneLock) {
                target = sealed;
            }
        }
        if (partial != null) {
            enqueue(partial);
        }
        synchronized (doneLock) {
            boolean interrupted = false;
            // Points other threads queue meanwhile are not waited for: only batches sealed up to here.
            while (!unfinished.isEmpty() && unfinished.first() <= target) {
                try {
                    doneLock.wait();
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
            if (firstFailure != null) {
                PolytrackException failure = firstFailure;
                long lost = rejectedPoints;
                firstFailure = null;
                rejectedPoints = 0;
                failed = true;
                throw PolytrackException.of(lost + " metric point(s) of run " + runId + " were not logged: "
                        + failure.getMessage(), failure.errorCode(), failure.httpStatus().orElse(null),
                        failure.grpcStatus(), failure);
            }
        }
    }

    /**
     * Sends every queued point, stops the sender threads and ends the run: FINISHED, or FAILED after
     * {@link #fail()} or when points could not be logged (that failure is then thrown).
     */
    @Override
    public void close() {
        synchronized (lock) {
            if (closed) {
                return;
            }
            // From here logMetric refuses points, so the flush below sends the last of them.
            closed = true;
        }
        PolytrackException failure = null;
        try {
            flush();
        } catch (PolytrackException e) {
            failure = e;
        }
        for (int i = 0; i < senders.length; i++) {
            enqueue(STOP);
        }
        for (Thread sender : senders) {
            try {
                sender.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        RunStatus status = failed || failure != null ? RunStatus.FAILED : RunStatus.FINISHED;
        try {
            client.tracking().updateRun(UpdateRunRequest.newBuilder().setRunId(runId).setStatus(status)
                    .setEndTime(System.currentTimeMillis()).build());
        } catch (PolytrackException e) {
            if (failure == null) {
                failure = e;
            } else {
                failure.addSuppressed(e);
            }
        }
        if (failure != null) {
            throw failure;
        }
    }

    /** Gives a batch leaving the caller's hands its sequence number. */
    private void seal(MetricBatch batch) {
        synchronized (doneLock) {
            batch.sequence = ++sealed;
            unfinished.add(batch.sequence);
        }
    }

    /** Marks a batch dealt with, waking flush() when it waits for it. */
    private void finished(MetricBatch batch) {
        synchronized (doneLock) {
            unfinished.remove(batch.sequence);
            doneLock.notifyAll();
        }
    }

    private void enqueue(MetricBatch batch) {
        boolean interrupted = false;
        while (true) {
            try {
                queue.put(batch);
                break;
            } catch (InterruptedException e) {
                // Keep the point: being interrupted must not lose queued data.
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    private void sendLoop() {
        long intervalNanos = options.flushInterval().toNanos();
        while (true) {
            MetricBatch batch;
            try {
                batch = queue.poll(Math.max(1, intervalNanos / 4), TimeUnit.NANOSECONDS);
            } catch (InterruptedException e) {
                continue;
            }
            if (batch == STOP) {
                return;
            }
            if (batch == null) {
                sealIfStale(intervalNanos);
                continue;
            }
            try {
                send(batch, 0, batch.size());
            } catch (RuntimeException unexpected) {
                record(PolytrackException.of("sending metrics failed: " + unexpected, "INTERNAL_ERROR", null,
                        Status.Code.INTERNAL, unexpected), batch.size());
            } finally {
                finished(batch);
                batch.clear();
                spare.offer(batch);
            }
        }
    }

    /** Queues the unfilled batch when its first point has waited a flush interval. */
    private void sealIfStale(long intervalNanos) {
        MetricBatch stale = null;
        synchronized (lock) {
            if (current != null && current.size() > 0 && System.nanoTime() - current.firstPointNanos >= intervalNanos
                    && queue.remainingCapacity() > 0) {
                stale = current;
                current = null;
                seal(stale);
            }
        }
        if (stale != null) {
            // Only senders take from the queue and this one is not waiting on it: never block here.
            if (!queue.offer(stale)) {
                try {
                    send(stale, 0, stale.size());
                } finally {
                    finished(stale);
                    stale.clear();
                }
            }
        }
    }

    /** Sends points [from, to); when refused, halves the range so that only the refused points are lost. */
    private void send(MetricBatch batch, int from, int to) {
        try {
            // Once a batch has used up its retries the server is taken to be down: the batches queued
            // behind it get one attempt each, so that close() reports them instead of waiting for each
            // one's full retry time in turn.
            client.call(TrackingServiceGrpc.getLogBatchMethod(), batch.request(runId, from, to),
                    serverDown ? RetryPolicy.NEVER : client.retryPolicy());
            serverDown = false;
        } catch (PolytrackException refused) {
            boolean permanent = !(refused instanceof UnavailableException);
            if (!permanent) {
                serverDown = true;
            }
            if (permanent && to - from > 1 && splittable(refused)) {
                int middle = (from + to) >>> 1;
                send(batch, from, middle);
                send(batch, middle, to);
            } else {
                record(refused, to - from);
            }
        }
    }

    /** Errors about the points themselves; a missing or finished run refuses every part alike. */
    private static boolean splittable(PolytrackException refused) {
        return "INVALID_PARAMETER_VALUE".equals(refused.errorCode());
    }

    private void record(PolytrackException failure, long points) {
        synchronized (doneLock) {
            if (firstFailure == null) {
                firstFailure = failure;
            }
            rejectedPoints += points;
        }
    }
}
