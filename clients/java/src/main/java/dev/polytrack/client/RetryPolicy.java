package dev.polytrack.client;

import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;

/**
 * How often and how long an RPC that is safe to repeat is retried after a transient failure (server
 * unreachable, {@code UNAVAILABLE}, {@code RESOURCE_EXHAUSTED}, {@code DEADLINE_EXCEEDED}).
 *
 * <p>Retry number n (from 0) waits a random time between half and all of
 * {@code min(maxBackoff, initialBackoff * 2^n)}; no retry starts after {@code maxAttempts} attempts or once
 * {@code maxElapsed} has passed since the first attempt. Calls that are not safe to repeat (creating an
 * experiment, run, registered model or model version, renaming a model) are retried only while no
 * connection to the server can be made (they were never sent); once one reached a server, it is not
 * repeated.
 *
 * @param maxAttempts attempts in all, at least 1 (1 means no retry)
 * @param initialBackoff the ceiling of the first wait
 * @param maxBackoff the largest ceiling of any wait
 * @param maxElapsed no retry starts once this much time has passed since the first attempt
 */
public record RetryPolicy(int maxAttempts, Duration initialBackoff, Duration maxBackoff, Duration maxElapsed) {

    /** The default: 5 attempts, waits from 0.5 s doubling up to 10 s, for at most 2 minutes. */
    public static final RetryPolicy DEFAULT =
            new RetryPolicy(5, Duration.ofMillis(500), Duration.ofSeconds(10), Duration.ofMinutes(2));

    /** One attempt per call: every answer is the server's first. */
    public static final RetryPolicy NEVER = new RetryPolicy(1, Duration.ZERO, Duration.ZERO, Duration.ZERO);

    /**
     * Checks the arguments.
     *
     * @param maxAttempts attempts in all, at least 1
     * @param initialBackoff the ceiling of the first wait
     * @param maxBackoff the largest ceiling of any wait
     * @param maxElapsed no retry starts once this much time has passed since the first attempt
     */
    public RetryPolicy {
        if (maxAttempts < 1) {
            throw new IllegalArgumentException("maxAttempts must be at least 1, got " + maxAttempts);
        }
        for (Duration d : new Duration[] {initialBackoff, maxBackoff, maxElapsed}) {
            if (d == null || d.isNegative()) {
                throw new IllegalArgumentException("backoff durations must be zero or positive, got " + d);
            }
        }
    }

    /**
     * @param retry the retry about to be made, from 0
     * @param elapsedNanos time since the first attempt
     * @return how long to wait before it in nanoseconds, or -1 to give up
     */
    long delayNanos(int retry, long elapsedNanos) {
        if (retry + 1 >= maxAttempts || elapsedNanos >= maxElapsed.toNanos()) {
            return -1;
        }
        double ceiling = Math.min(
                (double) maxBackoff.toNanos(), initialBackoff.toNanos() * Math.pow(2, Math.min(retry, 40)));
        return (long) ThreadLocalRandom.current().nextDouble(ceiling / 2, Math.nextUp(ceiling));
    }
}
