package dev.polytrack.client;

import dev.polytrack.v1.LogBatchRequest;
import dev.polytrack.v1.MetricColumns;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Up to {@code capacity} metric points of one run held as columns (primitive arrays, no object per point),
 * reused from batch to batch: the form LogBatch's {@code metric_columns} takes.
 */
final class MetricBatch {
    private final List<String> keys = new ArrayList<>();
    private final Map<String, Integer> keyIndexes = new HashMap<>();
    private final int[] keyIndexOfPoint;
    private final double[] values;
    private final long[] timestamps;
    private final long[] steps;
    private int size;
    private String lastKey;
    private int lastKeyIndex;
    /** System.nanoTime() of the first point, to send a batch that has waited long enough unfilled. */
    long firstPointNanos;
    /** Order in which the batch was sealed, for flush() to know what it waits for. */
    long sequence;

    MetricBatch(int capacity) {
        keyIndexOfPoint = new int[capacity];
        values = new double[capacity];
        timestamps = new long[capacity];
        steps = new long[capacity];
    }

    int size() {
        return size;
    }

    boolean isFull() {
        return size == values.length;
    }

    void add(String key, double value, long timestamp, long step) {
        if (size == 0) {
            firstPointNanos = System.nanoTime();
        }
        int index;
        // Points mostly come in runs of one key: skip the map lookup for a repeat.
        if (key.equals(lastKey)) {
            index = lastKeyIndex;
        } else {
            Integer known = keyIndexes.get(key);
            if (known == null) {
                known = keys.size();
                keys.add(key);
                keyIndexes.put(key, known);
            }
            index = known;
            lastKey = key;
            lastKeyIndex = index;
        }
        keyIndexOfPoint[size] = index;
        values[size] = value;
        timestamps[size] = timestamp;
        steps[size] = step;
        size++;
    }

    /** The LogBatch request carrying points [from, to) of this batch. */
    LogBatchRequest request(String runId, int from, int to) {
        MetricColumns.Builder columns = MetricColumns.newBuilder();
        if (from == 0 && to == size) {
            columns.addAllKeys(keys);
            for (int i = from; i < to; i++) {
                columns.addKeyIndexes(keyIndexOfPoint[i]);
            }
        } else {
            // A part of the batch names only its own keys, so that a bad key stays with its points.
            Map<Integer, Integer> renumbered = new HashMap<>();
            for (int i = from; i < to; i++) {
                Integer local = renumbered.get(keyIndexOfPoint[i]);
                if (local == null) {
                    local = renumbered.size();
                    renumbered.put(keyIndexOfPoint[i], local);
                    columns.addKeys(keys.get(keyIndexOfPoint[i]));
                }
                columns.addKeyIndexes(local);
            }
        }
        for (int i = from; i < to; i++) {
            columns.addValues(values[i]);
            columns.addTimestamps(timestamps[i]);
            columns.addSteps(steps[i]);
        }
        return LogBatchRequest.newBuilder().setRunId(runId).setMetricColumns(columns).build();
    }

    /** The key of point i (for error messages). */
    String keyOf(int i) {
        return keys.get(keyIndexOfPoint[i]);
    }

    void clear() {
        keys.clear();
        keyIndexes.clear();
        lastKey = null;
        size = 0;
    }
}
